from wordstats import unique_words, word_count, words


def test_words_lowercases_and_drops_punctuation():
    assert words("Hello, World! Hello.") == ["hello", "world", "hello"]


def test_word_count():
    assert word_count("one two  three\nfour") == 4
    assert word_count("") == 0


def test_unique_words():
    assert unique_words("A a B") == {"a", "b"}
