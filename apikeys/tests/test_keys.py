import hashlib

from hypothesis import given
from hypothesis import strategies as st

from apikeys import keys
from apikeys.keys import KeyKind


def test_generated_key_has_the_documented_layout_and_parses_back():
    generated = keys.generate(KeyKind.SECRET)
    assert generated.raw.startswith("sk_")
    assert len(generated.raw) == 3 + 8 + 32 + 6
    assert generated.raw[3:11] == generated.lookup_id
    assert keys.parse(generated.raw) == keys.ParsedKey(prefix="sk", lookup_id=generated.lookup_id)
    assert generated.digest == hashlib.sha256(generated.raw.encode()).hexdigest()


def test_publishable_keys_use_the_pk_prefix():
    generated = keys.generate(KeyKind.PUBLISHABLE)
    assert generated.raw.startswith("pk_")
    assert keys.parse(generated.raw).kind == KeyKind.PUBLISHABLE


def test_two_keys_are_never_the_same():
    assert len({keys.generate(KeyKind.SECRET).raw for _ in range(200)}) == 200


@given(position=st.integers(min_value=3, max_value=48), replacement=st.sampled_from(keys.BASE62))
def test_any_single_character_typo_is_refused_by_the_checksum(position, replacement):
    raw = keys.generate(KeyKind.SECRET).raw
    typo = raw[:position] + replacement + raw[position + 1 :]
    if typo != raw:
        assert keys.parse(typo) is None


def test_swapping_the_kind_prefix_breaks_the_checksum():
    raw = keys.generate(KeyKind.SECRET).raw
    assert keys.parse("pk_" + raw[3:]) is None


def test_garbage_is_refused():
    for garbage in ["", "sk_", "sk_short", "Bearer x", "xx_" + "a" * 46, "sk_" + "!" * 46]:
        assert keys.parse(garbage) is None


def test_mask_shows_only_kind_and_lookup_id():
    assert keys.mask(KeyKind.SECRET, "AbCd1234") == "sk_AbCd1234…"
    assert keys.mask("publishable", "AbCd1234") == "pk_AbCd1234…"


def test_digests_match_only_the_same_key():
    a, b = keys.generate(KeyKind.SECRET), keys.generate(KeyKind.SECRET)
    assert keys.digests_match(a.digest, a.raw)
    assert not keys.digests_match(a.digest, b.raw)
