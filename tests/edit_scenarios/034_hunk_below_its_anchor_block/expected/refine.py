def refine_re(expr):
    return expr.real


def refine_im(expr):
    return expr.imag


def refine_arg(expr):
    return expr.angle

handlers = {
    "re": refine_re,
    "im": refine_im,
    "arg": refine_arg,
}
