// Ticket page: a saved reply fills the message box (in the customer's language when written
// in both); the chosen text is the agent's to edit before sending.
(function () {
  "use strict";
  document.querySelectorAll("[data-saved-replies]").forEach(function (select) {
    var target = document.querySelector(select.getAttribute("data-saved-replies"));
    if (!target) return;
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var body = option && option.getAttribute("data-body");
      if (!body) return;
      target.value = target.value ? target.value.replace(/\s*$/, "") + "\n\n" + body : body;
      target.focus();
      select.selectedIndex = 0;
    });
  });
})();
