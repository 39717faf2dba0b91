"""The explorer in a real browser: headless Chromium from the system's packages (/usr/bin/chromium,
Debian's `chromium`) driven by Playwright for Python, against the real node and explorer processes.

The page loads and shows the node's height, a block opens from the list with the right hash, the
page follows a new block within its 2 s poll, search and account pages work, and the metagraph marks
the adversary the devnet's live file names. Skipped, saying why, when Chromium or Playwright is absent.
"""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = pytest.mark.functional

CHROMIUM = os.environ.get("HASHGRAD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser_page(explorer, tmp_path_factory):
    executable = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if executable is None:
        pytest.skip(f"no Chromium at {CHROMIUM} nor on PATH (install Debian's package: apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed "
        "(pip install playwright; its own browser download is not needed)",
    )
    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            page.goto(explorer.url)
            yield page
        finally:
            context.close()


def wait_for_text(page, selector: str, text: str) -> None:
    """Wait until the element shows exactly `text` (Playwright's assertion polls from outside the page, so
    the explorer's strict Content-Security-Policy, which forbids eval, stays on)."""
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text, timeout=TIMEOUT_MS)


def wait_for_height(page, height: int) -> None:
    wait_for_text(page, "#height", f"{height:,}")


def test_page_shows_the_current_height(browser_page, regtest_chain):
    height = regtest_chain.node.getblockcount()
    wait_for_height(browser_page, height)
    assert int(browser_page.text_content("#height").replace(",", "")) == regtest_chain.node.getblockcount()
    assert browser_page.text_content("#network") == "regtest"
    # the list is fetched after the status line shows the new height: wait for it, from outside the page
    from playwright.sync_api import expect

    expect(browser_page.locator("#blocks .block-link")).to_have_count(min(height + 1, 25), timeout=TIMEOUT_MS)
    assert browser_page.errors == []


def test_block_opens_from_the_list(browser_page, regtest_chain, tmp_path_factory):
    node = regtest_chain.node
    link = browser_page.locator("#blocks .block-link").nth(2)
    expected = link.get_attribute("data-hash")
    height = int(link.text_content().lstrip("#"))
    assert expected == node.getblockhash(height)
    link.click()
    detail = browser_page.locator(f'#block-detail[data-hash="{expected}"]')
    detail.wait_for()
    assert expected in detail.text_content()
    assert f"Block #{height}" in detail.text_content()
    browser_page.screenshot(path=str(tmp_path_factory.mktemp("screenshots") / "block.png"), full_page=True)
    assert browser_page.errors == []


def test_page_follows_a_new_block(browser_page, regtest_chain):
    node = regtest_chain.node
    new_hash = node.generate(1)[0]
    wait_for_height(browser_page, node.getblockcount())
    browser_page.locator(f'#blocks .block-link[data-hash="{new_hash}"]').wait_for()


def test_search_and_transaction_kinds(browser_page, regtest_chain):
    browser_page.fill("#search-input", regtest_chain.activity_block)
    browser_page.press("#search-input", "Enter")
    detail = browser_page.locator(f'#block-detail[data-hash="{regtest_chain.activity_block}"]')
    detail.wait_for()
    kinds = [t.strip() for t in detail.locator(".tag").all_text_contents()]
    assert kinds == ["coinbase"] + ["register"] * len(regtest_chain.hotkeys) + ["add stake", "transfer"]
    browser_page.locator(f'#block-detail .tx-link[data-route="tx/{regtest_chain.transfer_txid}"]').click()
    browser_page.locator(f'#tx-detail[data-txid="{regtest_chain.transfer_txid}"]').wait_for()
    recipient = regtest_chain.address(regtest_chain.recipient)
    browser_page.locator(f'#tx-detail .address-link[data-route="account/{recipient}"]').first.click()
    account = browser_page.locator(f'#account-detail[data-address="{recipient}"]')
    account.wait_for()
    assert regtest_chain.transfer_txid[:10] in account.text_content()


def test_metagraph_and_rewards_mark_the_adversary(browser_page, regtest_chain):
    adversary_rows = browser_page.locator("#metagraph tr.adversary")
    adversary_rows.first.wait_for()
    assert adversary_rows.count() == 1
    assert "adversary: lazy" in adversary_rows.first.text_content()
    assert browser_page.locator("#metagraph tbody tr").count() == len(regtest_chain.hotkeys)
    assert browser_page.locator("#rewards tr.adversary").count() == 1
    assert browser_page.locator("#loss-chart svg circle").count() == 3  # the start and two epochs
    assert browser_page.errors == []


def test_unknown_and_malformed_links_say_why(browser_page, explorer):
    browser_page.goto(f"{explorer.url}#/block/{'0' * 64}")
    wait_for_text(browser_page, "#detail-title", "Not found")
    assert "not-found" in browser_page.text_content("#detail")
    browser_page.goto(f"{explorer.url}#/block/zz")
    wait_for_text(browser_page, "#detail-title", "Cannot open this")
    assert "bad-block-ref" in browser_page.text_content("#detail")
    assert browser_page.errors == []
