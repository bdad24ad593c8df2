"""The report's one inline script: filter, search and sort controls over the sample tables.

Every table is complete in the HTML; the script only adds, above each item table (`table.filtered`), a free-text
search, outcome, type, language and gate filters (each where the rows have more than one value) and a "failing only"
switch, shows the first `ROWS_SHOWN` matching rows with a "show all" button, and makes each column header sort its
rows. A link into a folded block unfolds it; an evidence link to an item table filters it to its gate. With
JavaScript off the report reads the same, every row shown, without the controls.
Rows carry what their cells do not show as short data attributes (`data-o` outcome, `data-g` the gates the item
counts for, `!` after one it fails; class `bad` when it fails any: thousands of rows, each byte counts); type and
language are read from their columns. The script reads text, never writes markup from data.
"""

from __future__ import annotations

SCRIPT_ID = "tunegate-filters"

ROWS_SHOWN = 25  # rows a table shows until "show all" (filters apply to every row)

FILTER_SCRIPT = """
function openTo(id) {
  var target = id && document.getElementById(id);
  for (var el = target; el; el = el.parentElement) { if (el.tagName === 'DETAILS') { el.open = true; } }
  return target;
}
document.querySelectorAll('table.filtered').forEach(function (table) {
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var bar = document.createElement('div');
  bar.className = 'filters';
  var expanded = false;
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
  var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent; });
  var readers = {outcome: function (r) { return r.dataset.o || ''; }};
  ['type', 'language'].forEach(function (label) {
    readers[label] = function (r) { var i = heads.indexOf(label); return i < 0 ? '' : r.cells[i].textContent; };
  });
  function values(key) {
    var seen = rows.map(readers[key]).filter(function (v) { return v; });
    return [''].concat(seen.filter(function (v, i) { return seen.indexOf(v) === i; }).sort());
  }
  function gatesOf(r) {
    return (r.dataset.g || '').split(' ').filter(function (g) { return g; }).map(function (g) {
      return g.slice(-1) === '!' ? [g.slice(0, -1), 'fail'] : [g, 'ok']; });
  }
  var gateNames = [''].concat(rows.reduce(function (all, r) {
    gatesOf(r).forEach(function (g) { if (all.indexOf(g[0]) < 0) { all.push(g[0]); } });
    return all; }, []).sort());
  var search = control('input', 'search');
  var selects = ['outcome', 'type', 'language'].filter(function (key) { return values(key).length > 2; })
    .map(function (key) { var el = control('select', key, values(key)); el.dataset.key = key; return el; });
  var gate = gateNames.length > 2 ? control('select', 'gate', gateNames) : null;
  var failing = document.createElement('label');
  var box = document.createElement('input');
  box.type = 'checkbox';
  failing.appendChild(box);
  failing.appendChild(document.createTextNode(' failing only'));
  bar.appendChild(failing);
  var count = document.createElement('span');
  bar.appendChild(count);
  var more = document.createElement('button');
  more.className = 'show-all';
  more.addEventListener('click', function () { expanded = true; apply(); });
  function keeps(r) {
    var text = search.value.toLowerCase();
    var mine = gate && gate.value ? gatesOf(r).filter(function (g) { return g[0] === gate.value; }) : null;
    if (mine && !mine.length) { return false; }
    var bad = mine ? mine[0][1] === 'fail' : r.classList.contains('bad');
    return (!text || r.textContent.toLowerCase().indexOf(text) >= 0) && (!box.checked || bad)
      && selects.every(function (s) { return !s.value || readers[s.dataset.key](r) === s.value; });
  }
  function apply() {
    var matching = 0;
    rows.forEach(function (r) {
      var keep = keeps(r);
      r.hidden = !keep || (!expanded && matching >= __SHOWN__);
      matching += keep ? 1 : 0;
    });
    var shown = Math.min(matching, expanded ? matching : __SHOWN__);
    count.textContent = ' ' + shown + ' of ' + matching + ' matching rows (' + rows.length + ' in all)';
    more.textContent = 'show all ' + matching + ' rows';
    more.hidden = shown >= matching;
  }
  [search, box].concat(selects).concat(gate ? [gate] : []).forEach(function (el) {
    el.addEventListener('input', apply); });
  table.addEventListener('tunegate-filter', function (event) {
    if (gate) { gate.value = event.detail.gate; }
    box.checked = event.detail.only === 'fail';
    expanded = false;
    apply();
  });
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
      apply();
    });
  });
  table.parentNode.parentNode.insertBefore(bar, table.parentNode);
  table.parentNode.parentNode.insertBefore(more, table.parentNode.nextSibling);
  apply();
});
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a[href^="#"]');
  if (!link) { return; }
  var target = openTo(link.getAttribute('href').slice(1));
  if (target && link.dataset.gate !== undefined) {
    target.dispatchEvent(new CustomEvent('tunegate-filter', {detail: {gate: link.dataset.gate,
                                                                        only: link.dataset.only}}));
  }
});
openTo(location.hash.slice(1));
""".replace("__SHOWN__", str(ROWS_SHOWN))


def script_tag() -> str:
    """The filter script as one inline `<script>` element (the only script in the report)."""
    return f"<script id='{SCRIPT_ID}'>{FILTER_SCRIPT}</script>"
