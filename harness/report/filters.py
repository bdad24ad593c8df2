"""The report's one inline script: filter, search and sort controls over the sample tables.

Every table is complete in the HTML; the script only adds, above each `table.samples`, a free-text search,
outcome, type and language filters (each where the rows have more than one value) and a "failing only" switch,
and makes each column header sort its rows. With JavaScript off the report reads the same, without the controls.
Rows carry what the filters match on as data attributes (`data-outcome`, `data-type`, `data-language`,
`data-failing`); the script reads text, never writes markup from data.
"""

from __future__ import annotations

SCRIPT_ID = "tunegate-filters"

FILTER_SCRIPT = """
document.querySelectorAll('table.samples').forEach(function (table) {
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var bar = document.createElement('div');
  bar.className = 'filters';
  function control(tag, label, options) {
    var el = document.createElement(tag);
    el.setAttribute('aria-label', label);
    if (tag === 'input') { el.type = 'search'; el.placeholder = label; }
    (options || []).forEach(function (value) {
      var option = document.createElement('option');
      option.value = value; option.textContent = value || ('any ' + label);
      el.appendChild(option);
    });
    bar.appendChild(el);
    return el;
  }
  function values(key) {
    var seen = rows.map(function (r) { return r.dataset[key]; }).filter(function (v) { return v; });
    return [''].concat(seen.filter(function (v, i) { return seen.indexOf(v) === i; }).sort());
  }
  var search = control('input', 'search');
  var selects = ['outcome', 'type', 'language'].filter(function (key) { return values(key).length > 2; })
    .map(function (key) { var el = control('select', key, values(key)); el.dataset.key = key; return el; });
  var failing = document.createElement('label');
  var box = document.createElement('input');
  box.type = 'checkbox';
  failing.appendChild(box);
  failing.appendChild(document.createTextNode(' failing only'));
  bar.appendChild(failing);
  var count = document.createElement('span');
  bar.appendChild(count);
  function apply() {
    var text = search.value.toLowerCase(), shown = 0;
    rows.forEach(function (r) {
      var keep = (!text || r.textContent.toLowerCase().indexOf(text) >= 0)
        && (!box.checked || r.dataset.failing === '1')
        && selects.every(function (s) { return !s.value || r.dataset[s.dataset.key] === s.value; });
      r.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    count.textContent = ' ' + shown + ' of ' + rows.length + ' rows';
  }
  [search, box].concat(selects).forEach(function (el) { el.addEventListener('input', apply); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    th.style.cursor = 'pointer';
    th.title = 'sort';
    th.addEventListener('click', function () {
      var down = th.dataset.sorted !== 'up';
      th.dataset.sorted = down ? 'up' : 'down';
      rows.sort(function (a, b) {
        var x = a.cells[column].textContent, y = b.cells[column].textContent;
        var order = x.localeCompare(y, undefined, {numeric: true});
        return down ? order : -order;
      });
      rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
    });
  });
  table.parentNode.parentNode.insertBefore(bar, table.parentNode);
  apply();
});
"""


def script_tag() -> str:
    """The filter script as one inline `<script>` element (the only script in the report)."""
    return f"<script id='{SCRIPT_ID}'>{FILTER_SCRIPT}</script>"
