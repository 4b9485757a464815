// The dashboard's style sheet and script, served as /static/app.css and /static/app.js: written
// here, with no build step and nothing fetched from elsewhere. The pages work without the
// script; with it, times count down and what changes on the server shows up without a reload.
#include "engine/serve/pages.hpp"

namespace promote::serve::pages {

const char* const k_style = R"css(:root {
  --bg: #fbfbfc; --fg: #1d2330; --muted: #5b6475; --card: #ffffff; --line: #d5d9e0;
  --pass: #17692f; --warn: #8a5a00; --fail: #b3261e; --pending: #1f4fa3; --held: #6b3fa0;
  --link: #1f4fa3; --focus: #f2b01e;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15181e; --fg: #e6e9ef; --muted: #a3abba; --card: #1e232b; --line: #38404d;
    --pass: #6fd08c; --warn: #f0c46c; --fail: #ff8a80; --pending: #8fb4ff; --held: #c9a2f2;
    --link: #8fb4ff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  background: var(--bg); color: var(--fg); }
a { color: var(--link); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem; }
.skip:focus { left: .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
header.top { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .5rem;
  padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
header.top nav a { margin-right: .8rem; }
.brand { font-weight: 700; text-decoration: none; }
main { padding: 1rem; max-width: 96rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
h4 { font-size: .95rem; margin: .8rem 0 .3rem; }
.muted { color: var(--muted); }
.problem { color: var(--fail); }
.done { color: var(--pass); }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
.pipeline { margin-bottom: 1.5rem; }
ol.stages { list-style: none; padding: 0; margin: 0; display: grid; gap: .8rem;
  grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); }
li.stage { background: var(--card); border: 1px solid var(--line); border-radius: .5rem;
  padding: .8rem; min-width: 0; }
dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: .2rem .6rem; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
ul.plain { list-style: none; padding: 0; margin: 0; }
ul.gates { list-style: none; padding: 0; margin: 0; }
li.gate { padding: .3rem 0; border-top: 1px solid var(--line); }
li.gate .summary, li.gate .retry { font-size: .9rem; color: var(--muted); margin-left: .2rem; }
.badge { display: inline-block; font-size: .78rem; font-weight: 600; padding: .05rem .45rem;
  border-radius: 1rem; border: 1px solid currentColor; }
.s-pass, .s-promoted, .s-verified { color: var(--pass); }
.s-warn, .s-no-op, .s-proposed { color: var(--warn); }
.s-fail, .s-error, .s-blocked { color: var(--fail); }
.s-pending, .s-auto { color: var(--pending); }
.s-held { color: var(--held); }
.hold { border-left: 3px solid var(--held); padding-left: .5rem; }
details.commands { margin-top: .6rem; }
form.command { margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .3rem; align-items: center; }
form.inline { display: inline; }
form.stacked { display: grid; gap: .5rem; max-width: 24rem; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: 1rem; }
input, select, button { font: inherit; padding: .35rem .5rem; border-radius: .3rem;
  border: 1px solid var(--line); background: var(--card); color: var(--fg); min-height: 2.2rem; }
button { cursor: pointer; border-color: var(--link); }
button.link { border: 0; background: none; color: var(--link); text-decoration: underline;
  padding: 0; min-height: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
caption { text-align: left; color: var(--muted); padding: .3rem 0; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .35rem .5rem;
  vertical-align: top; }
pre { overflow-x: auto; background: var(--card); border: 1px solid var(--line); padding: .6rem; }
pre.diff .d-add { color: var(--pass); }
pre.diff .d-del { color: var(--fail); }
pre.diff .d-hunk, pre.diff .d-file { color: var(--muted); }
@media (max-width: 40rem) {
  main { padding: .6rem; }
  dl { grid-template-columns: 1fr; }
  dt { margin-top: .3rem; }
}
)css";

const char* const k_script = R"js('use strict';
// promote's dashboard: counts pending gates down, and replaces what changed on the server
// (told by server-sent events) without a reload, leaving alone what a person is typing in.
(function () {
  function span(seconds) {
    var days = Math.floor(seconds / 86400), hours = Math.floor(seconds % 86400 / 3600);
    var minutes = Math.floor(seconds % 3600 / 60), rest = seconds % 60;
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    if (days > 0) { return days + 'd ' + hours + 'h'; }
    if (hours > 0) { return hours + 'h ' + two(minutes) + 'm ' + two(rest) + 's'; }
    if (minutes > 0) { return minutes + 'm ' + two(rest) + 's'; }
    return rest + 's';
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll('time[data-countdown]').forEach(function (element) {
      var at = Date.parse(element.getAttribute('datetime'));
      if (isNaN(at)) { return; }
      var left = Math.round((at - now) / 1000);
      element.textContent = left > 0 ? 'in ' + span(left) : left === 0 ? 'now' : span(-left) + ' ago';
    });
  }
  tick();
  setInterval(tick, 1000);
  // Only a page with live parts listens (not the answer to a form, whose address is a POST's).
  if (!document.querySelector('[data-live][id]')) { return; }
  if (!('EventSource' in window) || !window.fetch || !window.DOMParser) { return; }
  var busy = false, again = false;
  function update() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null) { return; }
        var next = new DOMParser().parseFromString(text, 'text/html');
        var changed = 0;
        next.querySelectorAll('[data-live][id]').forEach(function (fresh) {
          var old = document.getElementById(fresh.id);
          if (!old || old.contains(document.activeElement) || old.outerHTML === fresh.outerHTML) {
            return;
          }
          var open = old.querySelector('details[open]');
          if (open) {
            var same = fresh.querySelector('details:not([open])');
            if (same) { same.open = true; }
          }
          old.replaceWith(fresh);
          changed += 1;
        });
        if (changed > 0) {
          tick();
          document.getElementById('live').textContent =
            'Updated at ' + new Date().toLocaleTimeString();
          document.documentElement.setAttribute('data-updated', String(Date.now()));
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; update(); }
      });
  }
  var source = new EventSource('/events');
  source.addEventListener('changed', update);
})();
)js";

const char* const k_icon =
    R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#17692f"/><path d="M8 22l8-12 8 12" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>
)svg";

}  // namespace promote::serve::pages
