// Progressive enhancement: show each <time datetime> in the reader's own time zone, named.
// Without this script the server's text stands, in the symposium's zone; it stays as the tooltip.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    el.title = el.textContent;
    el.textContent = format.format(when);
    el.classList.add("local");
  });
}());
