// The survey answer page (/s/<token>/ and the staff preview). The server renders every
// question and validates on its own; this adds, progressively: conditional display live (a
// question with data-show-if is shown only when the earlier answer is one of its values, and a
// hidden one is disabled, so neither required nor sent), one question per screen with
// Back / Next and a progress bar (data-stepped), and a "started" ping on the first answer.
(function () {
  "use strict";
  const form = document.querySelector("form[data-survey-form]");
  if (!form) return;
  const questions = Array.from(form.querySelectorAll("[data-survey-q]"));
  const byName = new Map(questions.map((q) => [q.dataset.name, q]));
  const stepped = form.hasAttribute("data-stepped");
  const back = form.querySelector("[data-survey-back]");
  const next = form.querySelector("[data-survey-next]");
  const submit = form.querySelector("[data-survey-submit]");
  const progress = form.querySelector("[data-survey-progress]");
  let current = 0;

  function values(q) {
    return Array.from(q.querySelectorAll("input, textarea"))
      .filter((el) => !el.disabled && ((el.type !== "radio" && el.type !== "checkbox") || el.checked))
      .map((el) => el.value.trim())
      .filter((v) => v !== "");
  }

  // Mirrors apps/surveys/answering.is_shown: shown unless it depends on an earlier answer,
  // which must be shown itself and one of the values.
  function isShown(q) {
    const dep = q.dataset.showIf;
    if (!dep) return true;
    const earlier = byName.get(dep);
    if (!earlier || !isShown(earlier)) return false;
    const wanted = (q.dataset.showIfValues || "").split("|");
    return values(earlier).some((v) => wanted.includes(v));
  }

  function applyConditions() {
    questions.forEach((q) => {
      const shown = isShown(q);
      q.hidden = !shown;
      q.querySelectorAll("input, textarea").forEach((el) => { el.disabled = !shown; });
    });
  }

  function visible() { return questions.filter((q) => !q.hidden); }

  function clearError(q) {
    const box = q.querySelector("[data-survey-jserror]");
    if (box) { box.textContent = ""; box.classList.add("d-none"); }
  }

  function check(q) {
    if (!q.hasAttribute("data-required") || values(q).length) { clearError(q); return true; }
    const box = q.querySelector("[data-survey-jserror]");
    box.textContent = form.dataset.msgRequired;
    box.classList.remove("d-none");
    const described = (q.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(box.id)) q.setAttribute("aria-describedby", [box.id, ...described].join(" "));
    const first = q.querySelector("input, textarea");
    if (first) first.focus();
    return false;
  }

  function showStep(index, focus) {
    const steps = visible();
    current = Math.max(0, Math.min(index, steps.length - 1));
    questions.forEach((q) => q.classList.toggle("d-none", q !== steps[current]));
    back.classList.toggle("d-none", current === 0);
    const last = current === steps.length - 1;
    next.classList.toggle("d-none", last);
    submit.classList.toggle("d-none", !last);
    const bar = progress.querySelector("progress");
    bar.max = steps.length;
    bar.value = current + 1;
    progress.querySelector("[data-survey-progress-label]").textContent = form.dataset.msgStep
      .replace("%(n)s", String(current + 1))
      .replace("%(total)s", String(steps.length));
    if (focus) {
      const legend = steps[current].querySelector("legend");
      steps[current].setAttribute("tabindex", "-1");
      (steps[current].querySelector("input:checked, input, textarea") || legend).focus();
    }
  }

  let started = false;
  function ping() {
    if (started || !form.dataset.startedUrl) return;
    started = true;
    const token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(form.dataset.startedUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    }).catch(() => {});
  }

  form.addEventListener("change", (event) => {
    applyConditions();
    const q = event.target.closest("[data-survey-q]");
    if (q) clearError(q);
    if (stepped && q && visible().indexOf(q) >= 0) showStep(visible().indexOf(q), false);
    ping();
  });
  form.addEventListener("input", (event) => { if (event.target.tagName === "TEXTAREA") ping(); });

  // Native validation would point at fields on other steps: the page checks each step itself.
  form.noValidate = true;
  form.addEventListener("submit", (event) => {
    applyConditions();
    const steps = visible();
    const bad = steps.findIndex((q) => !check(q));
    if (bad >= 0) {
      event.preventDefault();
      if (stepped) { showStep(bad, false); check(steps[bad]); }
      return;
    }
    setTimeout(() => { submit.disabled = true; }, 0);
  });

  applyConditions();
  if (stepped && next && back && progress) {
    progress.classList.remove("d-none");
    next.addEventListener("click", () => {
      if (check(visible()[current])) showStep(current + 1, true);
    });
    back.addEventListener("click", () => showStep(current - 1, true));
    // After a refused submit, open on the first question with an error.
    const firstError = visible().findIndex((q) => q.classList.contains("has-error"));
    showStep(firstError >= 0 ? firstError : 0, firstError >= 0);
  } else {
    const summary = document.getElementById("survey-errors");
    if (summary) summary.focus();
  }
})();
