// The journey board: drag a card onto another stage to move the customer there.
// A drop submits the card's own "Move to…" form (the one keyboard users submit), so the
// server's answer is the same: the board again, or the reason the move was refused.
(function () {
  "use strict";

  var board = document.querySelector(".board");
  if (!board) {
    return;
  }
  var dragged = null;

  function columnOf(node) {
    return node instanceof Element ? node.closest(".board-column") : null;
  }

  function clearTargets() {
    board.querySelectorAll(".drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target instanceof Element ? event.target.closest(".board-card") : null;
    if (!card || !card.querySelector(".move-form")) {
      return;
    }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.customer);
  });

  board.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("dragging");
    }
    dragged = null;
    clearTargets();
  });

  board.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column || column.contains(dragged)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!column.classList.contains("drop-target")) {
      clearTargets();
      column.classList.add("drop-target");
    }
  });

  board.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column || column.contains(dragged)) {
      return;
    }
    event.preventDefault();
    var form = dragged.querySelector(".move-form");
    form.elements.namedItem("to_stage").value = column.dataset.stage;
    form.requestSubmit();
  });
})();
