/* Behaviour that templates declare with data- attributes, on every page (staff dashboard, member
   portal, sign-in pages). The Content-Security-Policy allows no inline <script>, no on*= handler
   and no style= attribute, so markup says what it wants and this file does it:

   data-autosubmit          on a select or input: submit its form when the value changes
                            (keep a <noscript> submit button next to it)
   data-color="#rrggbb"     the element's --color custom property (a tier's colour from the
                            database; the stylesheets draw dots, bands and bars with it)
   data-show-when="kind:a b"  on a form field's wrapper: shown only while the form's field
                            named "kind" has the value a or b (fields a kind does not use)

   Runs on the page as loaded and on every piece of HTML htmx swaps in. */
(function () {
  "use strict";

  var COLOUR = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

  function applyColours(root) {
    var nodes = Array.prototype.slice.call(root.querySelectorAll("[data-color]"));
    if (root.matches && root.matches("[data-color]")) nodes.push(root);
    nodes.forEach(function (el) {
      var colour = el.getAttribute("data-color").trim();
      // Only a colour: the value comes from the database and must not smuggle in other CSS.
      if (COLOUR.test(colour)) el.style.setProperty("--color", colour);
    });
  }

  function controlValue(form, name) {
    var control = form.elements.namedItem(name);
    if (!control) return null;
    if (control.length !== undefined && !control.tagName) {  // a radio group
      var checked = Array.prototype.find.call(control, function (c) { return c.checked; });
      return checked ? checked.value : "";
    }
    return control.value;
  }

  function applyShowWhen(root) {
    root.querySelectorAll("form").forEach(function (form) {
      form.querySelectorAll("[data-show-when]").forEach(function (el) {
        var rule = el.getAttribute("data-show-when").split(":");
        var value = controlValue(form, rule[0]);
        // No choice yet shows everything; a choice shows the fields it uses.
        el.hidden = value !== null && value !== "" && rule[1].split(" ").indexOf(value) < 0;
      });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.form && event.target.form.querySelector("[data-show-when]")) {
      applyShowWhen(event.target.form.parentNode || document);
    }
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches("[data-autosubmit]") || !field.form) return;
    // requestSubmit fires the submit event, so htmx-driven forms keep working.
    if (field.form.requestSubmit) field.form.requestSubmit();
    else field.form.submit();
  });

  applyColours(document);
  applyShowWhen(document);
  document.addEventListener("htmx:load", function (event) {
    applyColours(event.target);
    applyShowWhen(event.target);
  });
})();
