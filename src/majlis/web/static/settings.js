// Settings pages: the reminder template preview follows the typing.
// Enhancement only: without JavaScript the Preview button posts the draft into the same frame.
(function () {
  "use strict";
  var DELAY_MS = 600;

  function follow(form) {
    var button = form.querySelector("[data-preview-button]");
    if (!button || typeof form.requestSubmit !== "function") {
      return;
    }
    var timer = null;
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        form.requestSubmit(button);
      }, DELAY_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-preview]").forEach(follow);
  });
})();
