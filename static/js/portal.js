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
  // One submit per form (the server is idempotent too: this only spares a second round trip).
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      // Disable after the browser has collected the form data.
      setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });
  // Copy buttons: data-copy-target="#input"; the label says "Copied" for a moment.
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.querySelector(button.dataset.copyTarget);
      if (!input) return;
      let copied = false;
      try {
        await navigator.clipboard.writeText(input.value);
        copied = true;
      } catch (_error) {
        input.focus();
        input.select();
        try { copied = document.execCommand("copy"); } catch (_e) { copied = false; }
      }
      const label = button.querySelector("span");
      if (copied && label) {
        const before = label.textContent;
        label.textContent = button.dataset.copiedLabel || before;
        setTimeout(() => { label.textContent = before; }, 2000);
      }
    });
  });
  // The system share sheet, where the browser has one (phones).
  if (navigator.share) {
    document.querySelectorAll("[data-share-url]").forEach((button) => {
      button.classList.remove("d-none");
      button.addEventListener("click", () => {
        navigator.share({ url: button.dataset.shareUrl, text: button.dataset.shareText }).catch(() => {});
      });
    });
  }
});
