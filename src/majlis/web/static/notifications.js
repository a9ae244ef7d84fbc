// The notifications bell: counts new notifications live, from the session's event stream.
// Without JavaScript the bell is a plain link showing the count when the page was drawn.
(function () {
  "use strict";

  var bell = document.getElementById("notification-bell");
  if (!bell || !window.EventSource) {
    return;
  }
  var TOAST_SECONDS = 10;
  var badge = bell.querySelector(".bell-count");
  var number = bell.querySelector(".bell-number");
  var toast = null;
  var toastTimer = null;

  function showCount(unread) {
    var cap = Number(bell.dataset.cap);
    var format = new Intl.NumberFormat(document.documentElement.lang);
    number.textContent = format.format(Math.min(unread, cap)) + (unread >= cap ? "+" : "");
    badge.hidden = unread === 0;
  }

  // The live region is made on the first notification (so pages without one carry no empty
  // status region), and filled a moment later so screen readers notice the change.
  function showToast(title) {
    if (!toast) {
      toast = document.createElement("p");
      toast.className = "toast";
      toast.setAttribute("role", "status");
      toast.setAttribute("aria-live", "polite");
      document.body.appendChild(toast);
    }
    window.clearTimeout(toastTimer);
    window.setTimeout(function () {
      toast.textContent = bell.dataset.toast.replace("{title}", title);
      toast.hidden = false;
    }, 50);
    toastTimer = window.setTimeout(function () {
      toast.hidden = true;
    }, TOAST_SECONDS * 1000);
  }

  function listen() {
    var source = new EventSource(bell.dataset.stream);
    source.addEventListener("open", function () {
      bell.dataset.live = "open";
    });
    source.addEventListener("notification", function (event) {
      var notification = JSON.parse(event.data);
      var unread = Number(bell.dataset.count) + 1;
      bell.dataset.count = String(unread);
      showCount(unread);
      showToast(notification.title);
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  // After the page has loaded, so the endless stream never holds up the load event.
  if (document.readyState === "complete") {
    listen();
  } else {
    window.addEventListener("load", listen);
  }
})();
