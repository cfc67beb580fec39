// Bar widths: the markup says data-width="40" (percent) and this sets style.width. The Content-Security-Policy
// forbids style="" attributes in markup (style-src 'self'), not styles set from a script file. Runs on the page
// and on every fragment htmx swaps in (htmx:load fires for both).
(function () {
  "use strict";
  function apply(root) {
    if (root.matches && root.matches("[data-width]")) root.style.width = root.dataset.width + "%";
    root.querySelectorAll("[data-width]").forEach(function (el) { el.style.width = el.dataset.width + "%"; });
  }
  document.addEventListener("DOMContentLoaded", function () { apply(document.body); });
  document.addEventListener("htmx:load", function (event) { apply(event.target); });
})();
