// The customers list swaps its results in place (HTMX) and updates the address;
// keep its Export links on the filters now shown. Without JavaScript the whole
// page reloads and the server writes the links.
"use strict";

document.addEventListener("htmx:pushedIntoHistory", () => {
  const shown = new URLSearchParams(window.location.search);
  shown.delete("cursor");
  shown.delete("sort");
  document.querySelectorAll("a[data-export-format]").forEach((link) => {
    const query = new URLSearchParams(shown);
    query.set("format", link.dataset.exportFormat);
    link.href = "/customers/export?" + query.toString();
  });
});
