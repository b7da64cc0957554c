"""The same 26 TodoMVC tests as todomvc.yaml, in pytest-playwright: the comparison baseline.

Not part of testfleet's test suite (pytest-playwright is no dependency of it). Run with
the machine's Chromium, never a downloaded one:

    pip install pytest-playwright pytest-xdist
    TODOMVC_URL=http://127.0.0.1:8080 pytest examples/todomvc/test_todomvc_playwright.py \\
        --browser-channel=chromium -n 2
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

URL = os.environ.get("TODOMVC_URL", "http://127.0.0.1:8080")
ITEMS = ["buy some cheese", "feed the cat", "book a doctors appointment"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"],
    }  # fmt: skip


@pytest.fixture(autouse=True)
def todos(page: Page) -> Page:
    page.goto(URL + "/")
    expect(page).to_have_title("TodoMVC: React")
    return page


def add(page: Page, *titles: str) -> None:
    field = page.get_by_label("New Todo Input")
    for title in titles:
        field.fill(title)
        field.press("Enter")


def items(page: Page) -> Locator:
    return page.get_by_test_id("todo-item")


def labels(page: Page) -> Locator:
    return page.get_by_test_id("todo-item-label")


def add_three(page: Page) -> None:
    add(page, *ITEMS)
    expect(items(page)).to_have_count(3)


def edit_second(page: Page, title: str) -> Locator:
    items(page).nth(1).get_by_test_id("todo-item-label").dblclick()
    editor = page.get_by_label("Edit todo")
    editor.clear()
    editor.press_sequentially(title)
    return editor


def test_should_focus_on_the_todo_input_field(page: Page) -> None:
    expect(page.get_by_label("New Todo Input")).to_be_focused()


def test_should_hide_main_and_footer_when_there_are_no_todos(page: Page) -> None:
    expect(items(page)).to_have_count(0)
    expect(page.get_by_test_id("main")).to_be_hidden()
    expect(page.get_by_test_id("footer")).to_be_hidden()


def test_should_allow_me_to_add_todo_items(page: Page) -> None:
    add(page, ITEMS[0])
    expect(items(page).nth(0).get_by_test_id("todo-item-label")).to_have_text(ITEMS[0])
    add(page, ITEMS[1])
    expect(items(page).nth(1).get_by_test_id("todo-item-label")).to_have_text(ITEMS[1])


def test_should_clear_text_input_field_when_an_item_is_added(page: Page) -> None:
    add(page, ITEMS[0])
    expect(page.get_by_label("New Todo Input")).to_have_value("")


def test_should_append_new_items_to_the_bottom_of_the_list(page: Page) -> None:
    add_three(page)
    expect(page.locator(".todo-count")).to_contain_text("3")
    expect(labels(page)).to_have_text(ITEMS)


def test_should_trim_text_input(page: Page) -> None:
    add(page, f"    {ITEMS[0]}    ")
    expect(labels(page)).to_have_text(re.compile(f"^{ITEMS[0]}$"))


def test_should_show_main_and_footer_when_items_added(page: Page) -> None:
    add(page, ITEMS[0])
    expect(page.get_by_test_id("main")).to_be_visible()
    expect(page.get_by_test_id("footer")).to_be_visible()


def test_should_allow_me_to_mark_all_items_as_completed(page: Page) -> None:
    add_three(page)
    page.get_by_label("Toggle All Input").check()
    for i in range(3):
        expect(items(page).nth(i)).to_have_class(re.compile(r"\bcompleted\b"))


def test_should_allow_me_to_clear_the_complete_state_of_all_items(page: Page) -> None:
    add_three(page)
    toggle_all = page.get_by_label("Toggle All Input")
    toggle_all.check()
    toggle_all.uncheck()
    for i in range(3):
        expect(items(page).nth(i)).not_to_have_class(re.compile(r"\bcompleted\b"))


def test_complete_all_checkbox_should_update_state(page: Page) -> None:
    add_three(page)
    toggle_all = page.get_by_label("Toggle All Input")
    toggle_all.check()
    expect(toggle_all).to_be_checked()
    items(page).nth(0).get_by_test_id("todo-item-toggle").uncheck()
    expect(toggle_all).not_to_be_checked()
    items(page).nth(0).get_by_test_id("todo-item-toggle").check()
    expect(toggle_all).to_be_checked()


def test_should_allow_me_to_mark_items_as_complete(page: Page) -> None:
    add(page, ITEMS[0], ITEMS[1])
    items(page).nth(0).get_by_test_id("todo-item-toggle").check()
    expect(items(page).nth(0)).to_have_class(re.compile(r"\bcompleted\b"))
    expect(items(page).nth(1)).not_to_have_class(re.compile(r"\bcompleted\b"))
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    expect(items(page).nth(0)).to_have_class(re.compile(r"\bcompleted\b"))
    expect(items(page).nth(1)).to_have_class(re.compile(r"\bcompleted\b"))


def test_should_allow_me_to_un_mark_items_as_complete(page: Page) -> None:
    add(page, ITEMS[0], ITEMS[1])
    toggle = items(page).nth(0).get_by_test_id("todo-item-toggle")
    toggle.check()
    expect(items(page).nth(0)).to_have_class(re.compile(r"\bcompleted\b"))
    toggle.uncheck()
    expect(items(page).nth(0)).not_to_have_class(re.compile(r"\bcompleted\b"))
    expect(items(page).nth(1)).not_to_have_class(re.compile(r"\bcompleted\b"))


def test_should_allow_me_to_edit_an_item(page: Page) -> None:
    add_three(page)
    edit_second(page, "buy some sausages").press("Enter")
    expect(labels(page)).to_have_text([ITEMS[0], "buy some sausages", ITEMS[2]])


def test_should_hide_other_controls_when_editing(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-label").dblclick()
    expect(items(page).nth(1).get_by_test_id("todo-item-toggle")).to_be_hidden()
    expect(items(page).nth(1).get_by_test_id("todo-item-label")).to_be_hidden()


def test_should_save_edits_on_blur(page: Page) -> None:
    add_three(page)
    edit_second(page, "buy some sausages").blur()
    expect(labels(page)).to_have_text([ITEMS[0], "buy some sausages", ITEMS[2]])


def test_should_trim_entered_text(page: Page) -> None:
    add_three(page)
    edit_second(page, "    buy some sausages    ").press("Enter")
    expect(labels(page).nth(1)).to_have_text(re.compile("^buy some sausages$"))


def test_should_remove_the_item_if_an_empty_text_string_was_entered(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-label").dblclick()
    editor = page.get_by_label("Edit todo")
    editor.clear()
    editor.press("Enter")
    expect(items(page)).to_have_count(2)


def test_should_display_the_current_number_of_todo_items(page: Page) -> None:
    add(page, ITEMS[0])
    expect(page.locator(".todo-count")).to_contain_text("1 item left")
    add(page, ITEMS[1])
    expect(page.locator(".todo-count")).to_contain_text("2 items left")


def test_should_display_the_correct_text(page: Page) -> None:
    add_three(page)
    items(page).nth(0).get_by_test_id("todo-item-toggle").check()
    expect(page.get_by_role("button", name="Clear completed")).to_have_text("Clear completed")


def test_should_remove_completed_items_when_clicked(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    page.get_by_role("button", name="Clear completed").click()
    expect(items(page)).to_have_count(2)
    expect(labels(page)).to_have_text([ITEMS[0], ITEMS[2]])


def test_should_be_hidden_when_there_are_no_items_that_are_completed(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    clear = page.get_by_role("button", name="Clear completed")
    expect(clear).to_be_visible()
    clear.click()
    expect(page.get_by_text("Clear completed")).to_be_hidden()


def test_should_allow_me_to_display_active_items(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    page.get_by_role("link", name="Active").click()
    expect(page).to_have_url(re.compile("#/active"))
    expect(items(page)).to_have_count(2)
    expect(labels(page)).to_have_text([ITEMS[0], ITEMS[2]])


def test_should_respect_the_back_button(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    page.get_by_role("link", name="All").click()
    expect(items(page)).to_have_count(3)
    page.get_by_role("link", name="Active").click()
    expect(items(page)).to_have_count(2)
    page.get_by_role("link", name="Completed").click()
    expect(items(page)).to_have_count(1)
    page.go_back()
    expect(items(page)).to_have_count(2)
    page.go_back()
    expect(items(page)).to_have_count(3)


def test_should_allow_me_to_display_completed_items(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    page.get_by_role("link", name="Completed").click()
    expect(items(page)).to_have_count(1)
    expect(labels(page)).to_have_text([ITEMS[1]])


def test_should_allow_me_to_display_all_items(page: Page) -> None:
    add_three(page)
    items(page).nth(1).get_by_test_id("todo-item-toggle").check()
    page.get_by_role("link", name="Active").click()
    page.get_by_role("link", name="Completed").click()
    page.get_by_role("link", name="All").click()
    expect(items(page)).to_have_count(3)


def test_should_highlight_the_currently_applied_filter(page: Page) -> None:
    add_three(page)
    expect(page.get_by_role("link", name="All")).to_have_class(re.compile(r"\bselected\b"))
    page.get_by_role("link", name="Active").click()
    expect(page.get_by_role("link", name="Active")).to_have_class(re.compile(r"\bselected\b"))
    page.get_by_role("link", name="Completed").click()
    expect(page.get_by_role("link", name="Completed")).to_have_class(re.compile(r"\bselected\b"))
    expect(page.get_by_role("link", name="All")).not_to_have_class(re.compile(r"\bselected\b"))
