"""KeyIndex: the compact key → (value, line, check) map an import keeps of every key it has written."""
from annotation.importing.keyindex import KeyIndex, content_digest, key_digest


def test_added_keys_are_found_with_their_value_line_and_check():
    index = KeyIndex()
    index.add([key_digest("a"), key_digest("b")], [10, -3], [1, 2], [content_digest("x"), 7])
    found = index.find([key_digest("b"), key_digest("c"), key_digest("a")])
    assert found == {key_digest("a"): (10, 1, content_digest("x")), key_digest("b"): (-3, 2, 7)}


def test_an_empty_index_finds_nothing():
    assert KeyIndex().find([key_digest("a")]) == {}
    assert len(KeyIndex()) == 0


def test_every_key_of_many_batches_is_found_after_the_segments_merge():
    index = KeyIndex()
    for batch in range(40):
        keys = [f"k{batch}-{i}" for i in range(batch + 1)]  # batches of growing size: merges of all kinds
        index.add([key_digest(k) for k in keys], [batch * 1000 + i for i in range(len(keys))],
                  [batch] * len(keys), [i for i in range(len(keys))])
    assert len(index) == sum(range(1, 41))
    assert len(index._segments) <= 8  # O(log n) segments, not one a batch
    wanted = [f"k{b}-{i}" for b in range(40) for i in range(b + 1)]
    found = index.find([key_digest(k) for k in wanted])
    assert [found[key_digest(k)][0] for k in wanted] == [b * 1000 + i for b in range(40) for i in range(b + 1)]
    assert index.find([key_digest("k3-4"), key_digest("nope")]) == {}


def test_keys_whose_digests_share_the_first_64_bits_are_told_apart():
    """The index searches on the first 8 bytes and confirms with the other 8: equal prefixes must not mix up."""
    prefix = b"\x01" * 8
    a, b, c = prefix + b"\x00" * 8, prefix + b"\x02" * 8, prefix + b"\x01" * 8
    index = KeyIndex()
    index.add([a, b], [1, 2], [1, 2], [0, 0])
    index.add([b"\x00" * 16], [3], [3], [0])
    assert index.find([b, c, a]) == {a: (1, 1, 0), b: (2, 2, 0)}
