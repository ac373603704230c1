from hypothesis import given
from hypothesis import strategies as st

from moderation.normalize import clean, clean_unicode, fold, normalize


def test_zero_width_and_control_characters_are_removed_and_whitespace_collapsed():
    assert clean("buy\u200b now\x00\t\n  please\ufeff") == "buy now please"


def test_nfkc_turns_compatibility_forms_into_plain_letters():
    assert clean("ｆｕｌｌ ｗｉｄｔｈ ﬁne") == "full width fine"


def test_fold_undoes_leet_lookalikes_accents_and_spacing():
    assert fold("Ѕ Р А М") == "spam"  # Cyrillic look-alikes, spaced out
    assert fold("sh1t and b!tch") == "shit and bitch"
    assert fold("Café naïve") == "cafe naive"
    assert fold("f.r.e.e") == "free"
    assert fold("soooooo") == "soo"


def test_fold_keeps_numbers_and_trailing_punctuation():
    assert fold("I paid $40 in 2024!!") == "i paid $40 in 2024!!"


def test_normalize_returns_cleaned_and_folded_forms():
    assert normalize(" K1LL\u200bER ") == ("K1LLER", "killer")


@given(st.text(max_size=300))
def test_clean_is_idempotent_and_has_no_invisible_characters(text):
    once = clean(text)
    assert clean(once) == once
    assert "\u200b" not in once and "\x00" not in once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(max_size=300))
def test_fold_never_grows_beyond_a_small_factor_and_is_lowercase(text):
    folded = fold(clean(text))
    assert len(folded) <= 3 * len(text) + 1
    assert folded == folded.lower() or not folded.isascii()


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_cleans_exactly_like_the_general_path(text):
    assert clean(text) == clean_unicode(text)
