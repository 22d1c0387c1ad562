"""django-import-export's export formats, made to follow the export rules of ``apps.core.exports``
(used by the admin's export buttons).

Resources hand over cells as they are (``spreadsheet_text`` strips only what a spreadsheet cannot
hold); the format decides how formula-like text stays inert, as every other export does: CSV and
TSV put an apostrophe in front, the only way those formats have; XLSX is written by
``xlsx_file`` — typed text cells with the quote-prefix style (a phone reads ``+8613290809573``,
not ``'+8613290809573``), a bold frozen header with an autofilter, fitted widths, dates as dates.
JSON is data, not a sheet: values go out as they are. Formats a spreadsheet would open with no way
to keep text inert (HTML, YAML, ODS) are not offered for export.
"""

import tablib
from import_export.formats import base_formats

from .exports import escape_cell, xlsx_file


def _escaped(dataset: tablib.Dataset) -> tablib.Dataset:
    out = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        out.append([escape_cell(value) for value in row])
    return out


class EscapedCSV(base_formats.CSV):
    def export_data(self, dataset, **kwargs):
        return _escaped(dataset).export(self.get_title(), **kwargs)


class EscapedTSV(base_formats.TSV):
    def export_data(self, dataset, **kwargs):
        return _escaped(dataset).export(self.get_title(), **kwargs)


class TypedXLSX(base_formats.XLSX):
    def export_data(self, dataset, **kwargs):
        rows = (list(row) for row in dataset)
        with xlsx_file(title=dataset.title or "Sheet", header=dataset.headers, rows=rows) as f:
            return f.read()


class PlainJSON(base_formats.JSON):
    def export_data(self, dataset, **kwargs):
        return dataset.export(self.get_title(), **kwargs)


EXPORT_FORMATS = [EscapedCSV, TypedXLSX, EscapedTSV, PlainJSON]
