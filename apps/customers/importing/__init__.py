"""Fast-path imports of customers and orders from ``.csv`` (UTF-8, with or without BOM) or
``.xlsx`` files (DESIGN §6), plus the ImportJob services behind the dashboard import page.

How an import runs:

1. **Read and validate the whole file first** (nothing written). Every bad row is collected as
   ``row N, column C: reason``. ``N`` is the row number a spreadsheet user sees: the header is
   row 1, so the first data row is row 2; blank rows are skipped but keep their number.
   Files are read strictly (``files``): a malformed CSV quote, a row wider or narrower than the
   header, a NUL character or an XLSX formula is an error, never dropped, padded or blanked; an
   XLSX workbook is checked from its zip directory (unpacked size, ratio, one sheet, rows)
   before it is parsed, then streamed.
2. **All or nothing**: any error and nothing is written; the first 1,000 messages are returned
   with the total count.
3. **Write in one transaction**: on PostgreSQL the rows go through psycopg 3 ``COPY`` into a
   temporary staging table, then set-based ``INSERT ... SELECT`` into the real tables (orders
   first, then their lines joined back by ``(store_id, external_id)``); on SQLite through
   ``bulk_create`` in batches. One AuditEvent records the import (actor, kind, file, counts).

Re-running a file is safe:

- **Orders**: an order already in the database with the same store and external id is
  *skipped* when its customer, time and total are the same as in the file (a re-run of the
  same file writes nothing new), and is an *error* when any of them differs (the file disagrees
  with what was recorded; orders are never silently rewritten, their points depend on them).
- **Customers**: imports create customers, they never update them. A row whose member number
  already exists is skipped; a row without a member number whose e-mail or phone already
  belongs to a customer is skipped too. Inside one file, member numbers must be unique.
- **Erased customers**: a row whose e-mail or phone is on the suppression list of erased
  people (``ErasedContact``, digests only) is an error: an old file must not bring a person
  back who asked to be forgotten (they may join again themselves). The list is checked while
  validating and again in the write transaction, under a lock the erasure takes too.

Consent columns become ConsentRecord rows with source ``import`` and the file and row as
evidence; the import's single AuditEvent covers them (one audit row per file, not per cell).

The package, by concept: ``files`` (reading .csv/.xlsx, upload checks), ``parsing`` (field
parsers), ``results`` (result, errors, progress), ``rows`` (row cleaners shared with the admin's
django-import-export resources), ``customers`` and ``orders`` (validate, then write), ``runner``
(an ImportJob's passes, run by the worker), ``jobs`` (staff upload and start, which queue the
worker), ``retention`` (deleting import data, and scrubbing it on erasure).
"""
