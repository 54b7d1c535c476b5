def refine_re(expr):
    return expr.real


def refine_im(expr):
    return expr.imag

handlers = {
    "re": refine_re,
    "im": refine_im,
}
