"""Demo pages with the controls real apps use and naive runners trip over.

- ``/todos``: a TodoMVC-style list. Each checkbox is an ``opacity: 0`` input laid
  over its styled label (a runner that calls it invisible can never tick it); a
  double-clicked title opens an inline editor that commits on Enter and on blur,
  and deletes the item when committed empty (a ``clear`` that blurs deletes it
  before the next keystroke). Items persist in localStorage; filters are hash
  routes (history to go back and forth in).
- ``/shadow``: a custom element whose controls live in an open shadow root.
- ``/sortable``: a list reordered with HTML5 drag and drop.
- ``/signup``: a form whose fields have no ids or names, only labels, roles,
  placeholders and test ids, with a custom ``role=checkbox`` and a ``role=button``
  that stays ``aria-disabled`` until a name is typed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from demosite.layout import page

_TODO_CSS = """
.todoapp{max-width:34rem;border:1px solid #ddd;box-shadow:0 2px 6px #0002}
.new-todo,.edit{box-sizing:border-box;width:100%;font-size:1.2rem;padding:.8rem 1rem .8rem 3.6rem}
.todo-list{list-style:none;margin:0;padding:0}
.todo-list li{position:relative;border-top:1px solid #eee;font-size:1.2rem}
.todo-list li .toggle{opacity:0;position:absolute;top:0;bottom:0;margin:auto 0;width:40px;
  height:40px;left:4px;z-index:1;cursor:pointer}
.todo-list li label{display:block;padding:.9rem 3rem .9rem 3.6rem;word-break:break-all;
  position:relative}
.todo-list li label::before{content:"";position:absolute;left:.7rem;top:50%;width:24px;
  height:24px;margin-top:-13px;border:1px solid #bbb;border-radius:50%}
.todo-list li.completed label{color:#999;text-decoration:line-through}
.todo-list li.completed label::before{border-color:#59a193;background:#3ea390}
.todo-list li .edit{display:none}
.todo-list li.editing .edit{display:block}.todo-list li.editing .view{display:none}
.todo-list li .destroy{display:none;position:absolute;right:.6rem;top:0;bottom:0;margin:auto 0;
  border:0;background:none;font-size:1.4rem;color:#c88;cursor:pointer}
.todo-list li:hover .destroy{display:block}
.footer{display:flex;gap:1rem;align-items:center;padding:.5rem 1rem;border-top:1px solid #eee}
.filters{display:flex;gap:.5rem;list-style:none;margin:0;padding:0}
.filters a.selected{border:1px solid #cbb;border-radius:3px;padding:0 .3rem}
[hidden]{display:none!important}
"""

_TODO_BODY = """
<section class="todoapp">
  <h1>todos</h1>
  <input class="new-todo" placeholder="What needs to be done?" aria-label="New todo" autofocus>
  <section class="main" hidden>
    <input id="toggle-all" class="toggle-all" type="checkbox">
    <label for="toggle-all">Mark all as complete</label>
    <ul class="todo-list"></ul>
  </section>
  <footer class="footer" hidden>
    <span class="todo-count" data-testid="todo-count"></span>
    <ul class="filters">
      <li><a href="#/">All</a></li><li><a href="#/active">Active</a></li>
      <li><a href="#/completed">Completed</a></li>
    </ul>
    <button class="clear-completed">Clear completed</button>
  </footer>
</section>
"""

_TODO_SCRIPT = """
const KEY = "todos-testfleet";
let todos = JSON.parse(localStorage.getItem(KEY) || "[]");
let editing = null;
const $ = (s) => document.querySelector(s);
const save = () => localStorage.setItem(KEY, JSON.stringify(todos));
function filter() {
  const route = location.hash.replace(/^#\\/?/, "");
  return route === "active" ? (t) => !t.done : route === "completed" ? (t) => t.done : () => true;
}
function render() {
  const list = $(".todo-list");
  list.replaceChildren();
  for (const todo of todos.filter(filter())) {
    const li = document.createElement("li");
    li.dataset.testid = "todo-item";
    if (todo.done) li.classList.add("completed");
    if (editing === todo.id) li.classList.add("editing");
    li.innerHTML = '<div class="view"><input class="toggle" type="checkbox">'
      + '<label data-testid="todo-title"></label><button class="destroy" aria-label="Delete">'
      + '×</button></div><input class="edit" aria-label="Edit">';
    li.querySelector("label").textContent = todo.title;
    const toggle = li.querySelector(".toggle");
    toggle.checked = todo.done;
    toggle.addEventListener("change", () => { todo.done = toggle.checked; save(); render(); });
    li.querySelector("label").addEventListener("dblclick", () => {
      editing = todo.id; render();
      const edit = $(".todo-list li.editing .edit");
      edit.value = todo.title; edit.focus();
    });
    li.querySelector(".destroy").addEventListener("click", () => {
      todos = todos.filter((t) => t !== todo); save(); render();
    });
    const edit = li.querySelector(".edit");
    const commit = () => {
      if (editing !== todo.id) return;
      editing = null;
      const title = edit.value.trim();
      if (title) todo.title = title; else todos = todos.filter((t) => t !== todo);
      save(); render();
    };
    edit.addEventListener("keydown", (e) => {
      if (e.key === "Enter") commit();
      if (e.key === "Escape") { editing = null; render(); }
    });
    edit.addEventListener("blur", commit);
    list.appendChild(li);
  }
  const left = todos.filter((t) => !t.done).length;
  $(".todo-count").innerHTML = "<strong>" + left + "</strong> item" + (left === 1 ? "" : "s")
    + " left";
  $(".main").hidden = $(".footer").hidden = todos.length === 0;
  $(".toggle-all").checked = todos.length > 0 && left === 0;
  $(".clear-completed").hidden = todos.every((t) => !t.done);
  for (const a of document.querySelectorAll(".filters a")) {
    a.classList.toggle("selected", a.getAttribute("href") === (location.hash || "#/"));
  }
}
$(".new-todo").addEventListener("keydown", (e) => {
  const title = e.target.value.trim();
  if (e.key !== "Enter" || !title) return;
  todos.push({id: Date.now() + Math.random(), title, done: false});
  e.target.value = ""; save(); render();
});
$(".toggle-all").addEventListener("change", (e) => {
  for (const t of todos) t.done = e.target.checked; save(); render();
});
$(".clear-completed").addEventListener("click", () => {
  todos = todos.filter((t) => !t.done); save(); render();
});
window.addEventListener("hashchange", render);
render();
"""


async def todos(request: Request) -> Response:
    return page("Todos", _TODO_BODY, _TODO_SCRIPT, style=_TODO_CSS)


_SHADOW_SCRIPT = """
class FancyCounter extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({mode: "open"});
    root.innerHTML = '<style>output{font-weight:bold}</style>'
      + '<label>Step <input type="number" value="1"></label>'
      + '<button type="button" data-testid="add">Add</button> '
      + 'Total: <output>0</output>';
    const out = root.querySelector("output");
    root.querySelector("button").addEventListener("click", () => {
      out.textContent = Number(out.textContent) + Number(root.querySelector("input").value);
    });
  }
}
customElements.define("fancy-counter", FancyCounter);
"""


async def shadow(request: Request) -> Response:
    body = (
        "<h1>Shadow DOM</h1><p>The counter below is a web component.</p><fancy-counter>"
        "</fancy-counter>"
    )
    return page("Shadow DOM", body, _SHADOW_SCRIPT)


_SORTABLE_SCRIPT = """
const list = document.getElementById("sortable");
let dragged = null;
function showOrder() {
  document.getElementById("order").textContent =
    Array.from(list.children).map((li) => li.textContent).join(",");
}
for (const li of list.children) {
  li.addEventListener("dragstart", (e) => {
    dragged = li; e.dataTransfer.setData("text/plain", li.id); li.classList.add("dragging");
  });
  li.addEventListener("dragend", () => li.classList.remove("dragging"));
  li.addEventListener("dragover", (e) => e.preventDefault());
  li.addEventListener("drop", (e) => {
    e.preventDefault();
    if (!dragged || dragged === li) return;
    const items = Array.from(list.children);
    if (items.indexOf(dragged) < items.indexOf(li)) li.after(dragged); else li.before(dragged);
    showOrder();
  });
}
showOrder();
"""


async def sortable(request: Request) -> Response:
    items = "".join(
        f'<li id="item-{n}" draggable="true">{name}</li>'
        for n, name in enumerate(("Alpha", "Bravo", "Charlie", "Delta", "Echo"), 1)
    )
    body = (
        "<h1>Sortable</h1><p>Drag the items to reorder them.</p>"
        f'<ul id="sortable">{items}</ul><p>Order: <span id="order"></span></p>'
    )
    style = (
        "#sortable li{padding:.5rem;margin:.3rem 0;border:1px solid #aaa;cursor:grab;width:12rem}"
    )
    return page("Sortable", body, _SORTABLE_SCRIPT, style=style)


_SIGNUP_BODY = """
<h1>Sign up</h1>
<form aria-label="Sign up" novalidate>
  <label>Full name <input autocomplete="off"></label>
  <label>Email <input type="email"></label>
  <span id="pw-label">Password</span> <input type="password" aria-labelledby="pw-label">
  <label>Country <select><option>Norway</option><option>Chile</option><option>Japan</option>
  </select></label>
  <div role="radiogroup" aria-label="Plan">
    <label><input type="radio" name="plan" value="free" checked> Free</label>
    <label><input type="radio" name="plan" value="pro"> Pro</label>
  </div>
  <div role="checkbox" aria-checked="false" tabindex="0" class="fake-check">Send me news</div>
  <input placeholder="Promo code">
  <div role="button" tabindex="0" aria-disabled="true" class="fake-button">Create account</div>
</form>
<p role="status" data-testid="summary"></p>
"""

_SIGNUP_SCRIPT = """
const form = document.querySelector("form");
const [name, email] = form.querySelectorAll("label > input");
const news = form.querySelector("[role=checkbox]");
const create = form.querySelector("[role=button]");
const toggle = () => news.setAttribute("aria-checked",
  news.getAttribute("aria-checked") === "true" ? "false" : "true");
news.addEventListener("click", toggle);
news.addEventListener("keydown", (e) => { if (e.key === " ") { e.preventDefault(); toggle(); } });
name.addEventListener("input", () =>
  create.setAttribute("aria-disabled", String(!name.value.trim())));
create.addEventListener("click", () => {
  if (create.getAttribute("aria-disabled") === "true") return;
  const plan = form.querySelector("input[name=plan]:checked").value;
  const country = form.querySelector("select").value;
  const promo = form.querySelector("[placeholder='Promo code']").value;
  document.querySelector("[role=status]").textContent = "Welcome, " + name.value + " <"
    + email.value + ">, " + country + ", plan " + plan + ", news "
    + (news.getAttribute("aria-checked") === "true" ? "yes" : "no")
    + (promo ? ", promo " + promo : "");
});
"""


async def signup(request: Request) -> Response:
    style = (
        ".fake-check,.fake-button{display:inline-block;margin:.6rem 0;padding:.4rem .8rem;"
        "border:1px solid #888;cursor:pointer}.fake-check[aria-checked=true]{background:#cfc}"
        ".fake-button[aria-disabled=true]{opacity:.5}"
    )
    return page("Sign up", _SIGNUP_BODY, _SIGNUP_SCRIPT, style=style)
