"""Runbook output with ANSI colours becomes escaped HTML with classes."""

from webui import ansi

ESC = "\x1b"


def test_plain_text_is_escaped_and_gets_no_span():
    assert ansi.to_html("<b>bold</b> & more") == "&lt;b&gt;bold&lt;/b&gt; &amp; more"


def test_colours_and_bold_become_classes_and_reset_ends_them():
    html = ansi.to_html(f"{ESC}[1;31mERROR{ESC}[0m done {ESC}[32mok{ESC}[39m.")
    assert html == '<span class="ansi-bold ansi-fg-1">ERROR</span> done <span class="ansi-fg-2">ok</span>.'


def test_bright_background_and_256_colour_codes_of_the_named_colours():
    assert ansi.to_html(f"{ESC}[93;44mx") == '<span class="ansi-fg-11 ansi-bg-4">x</span>'
    assert ansi.to_html(f"{ESC}[38;5;9mx") == '<span class="ansi-fg-9">x</span>'


def test_colours_with_no_class_are_dropped_without_eating_the_text():
    # 24-bit and the 256-colour cube have no class (no style attribute under the CSP).
    assert ansi.to_html(f"{ESC}[38;2;255;0;0mred{ESC}[38;5;200m pink{ESC}[1m!") == (
        'red pink<span class="ansi-bold">!</span>'
    )


def test_hostile_markup_inside_colours_stays_text():
    html = ansi.to_html(f'{ESC}[31m<script>alert(1)</script>{ESC}[0m<img src=x onerror="alert(2)">')
    assert "<script>" not in html and "<img" not in html
    assert html == (
        '<span class="ansi-fg-1">&lt;script&gt;alert(1)&lt;/script&gt;</span>'
        "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
    )


def test_a_crafted_sequence_cannot_inject_a_class_or_attribute():
    html = ansi.to_html(f'{ESC}[31" onmouseover="alert(1)mtext{ESC}[3"x"m')
    # Not a colour code at all: the quote stays text, no span is opened.
    assert "<span" not in html and '"' not in html
    assert "&quot; onmouseover=&quot;alert(1)mtext" in html


def test_cursor_moves_titles_and_control_characters_are_removed():
    assert ansi.to_html(f"{ESC}]0;title{ESC}\\50%{ESC}[2K{ESC}[1A\r\x07 done") == "50% done"
    assert ansi.strip(f"{ESC}[1;31mERROR{ESC}[0m\x08") == "ERROR"
