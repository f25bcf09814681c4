"""An offer cannot be missed: the console rings and its title blinks until the offer is answered, and
the agent's Mute is remembered by the server, across reloads and browsers."""

from playwright.sync_api import expect

from .conftest import accept, tab

# counts the tones the page attempts (the Web Audio oscillator each starts), nothing more
TONES = """
window.tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.tones += 1; return start.apply(this, args); };
"""
CONSOLE = "Console · Parley"


def tones(page):
    return page.evaluate("window.tones")


def test_an_offer_rings_and_blinks_the_title_until_accepted(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    ann.add_init_script(TONES)
    ann.reload()
    chatter_page(server, "Hana")
    expect(tab(ann, "Hana")).to_be_visible()
    ann.wait_for_function("() => document.title === 'New chat — Hana'")
    ann.wait_for_function(f"() => document.title === '{CONSOLE}'")  # it blinks
    ann.wait_for_function("() => document.title === 'New chat — Hana'")
    ann.wait_for_function("() => window.tones >= 2")  # it rings again, a few seconds later
    accept(ann, "Hana")
    expect(ann).to_have_title(CONSOLE)
    rung = tones(ann)
    ann.wait_for_timeout(3500)  # longer than a ring's interval: nothing more may sound or blink
    expect(ann).to_have_title(CONSOLE)
    assert tones(ann) == rung


def test_mute_is_remembered_across_reloads_and_silences_the_ring_but_not_the_title(
    server, agent_page, chatter_page, new_page
):
    ann = agent_page(server, "ann")
    ann.add_init_script(TONES)
    mute = ann.get_by_role("button", name="Mute")
    expect(mute).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    ann.reload()
    expect(ann.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "true")
    chatter_page(server, "Ivo")
    ann.wait_for_function("() => document.title === 'New chat — Ivo'")
    ann.wait_for_function(f"() => document.title === '{CONSOLE}'")
    ann.wait_for_function("() => document.title === 'New chat — Ivo'")
    assert tones(ann) == 0
    ann.get_by_role("button", name="Mute").click()  # sound on again: the ring is heard
    expect(ann.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "false")
    ann.wait_for_function("() => window.tones >= 1")
