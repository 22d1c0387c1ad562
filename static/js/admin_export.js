/* django-import-export's admin export page: the "select all" box, wired up here instead of an
   onchange= attribute (the Content-Security-Policy refuses inline handlers). The handler,
   onSelectToggleChange, comes with the form's media (import_export/export_selectable_fields.js). */
document.addEventListener("change", (event) => {
  if (event.target.matches(".select-toggle") && typeof window.onSelectToggleChange === "function") {
    window.onSelectToggleChange(event);
  }
});
