// The field page's CRM property lists, filtered as the admin types in "Find a CRM property" (without
// JavaScript the same box filters them on the server through ?q=). Loaded as a file: the CSP allows no inline
// script. The selected property stays listed, so a filter never changes what is picked.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("property-filter");
  if (!box) {
    return;
  }
  box.addEventListener("input", function () {
    var wanted = box.value.trim().toLowerCase();
    document.querySelectorAll("select.property-list option").forEach(function (option) {
      var shown = wanted === "" || option.selected || option.textContent.toLowerCase().indexOf(wanted) !== -1;
      option.hidden = !shown;
    });
  });
});
