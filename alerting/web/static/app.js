// Small progressive enhancements; every page works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Whole inbox rows are clickable (the title link stays the accessible target).
  document.querySelectorAll("tr[data-href]").forEach((row) => {
    row.addEventListener("click", (ev) => {
      if (ev.target.closest("a, button, input, select, textarea")) return;
      window.location.assign(row.dataset.href);
    });
  });
  // Character counter under the follow-up note.
  document.querySelectorAll("textarea[data-counter]").forEach((area) => {
    const out = document.getElementById(area.dataset.counter);
    const update = () => { if (out) out.textContent = String(area.value.length); };
    area.addEventListener("input", update);
    update();
  });
  // Period selector on the effectiveness page applies immediately.
  document.querySelectorAll("select[data-autosubmit]").forEach((sel) => {
    sel.addEventListener("change", () => sel.form && sel.form.submit());
  });
  // Prevent double submission of action forms.
  document.querySelectorAll("form[method=post]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
    });
  });
});
