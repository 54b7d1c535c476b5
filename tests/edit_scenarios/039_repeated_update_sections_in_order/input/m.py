import os


def foo(a):
    x = 1
    return a + x


def bar():
    return 2
