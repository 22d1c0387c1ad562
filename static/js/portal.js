// Small progressive enhancements for the member portal; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Confirm before destructive buttons (the server still requires its own confirmation).
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
  // Keep the screen awake-ish hint: brighten the member card page for scanners.
  if (document.body.classList.contains("page-card")) {
    document.documentElement.style.setProperty("--portal-bg", "#ffffff");
  }
});
