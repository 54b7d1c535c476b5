class Union:
    def __new__(cls, *args, **kwargs):
        evaluate = kwargs.get("evaluate", True)
        args = list(args)
        return cls.reduce(args, evaluate)


class Intersection:
    def __new__(cls, *args, **kwargs):
        evaluate = kwargs.get("evaluate", True)
        args = list(args)
        return cls.reduce(args, evaluate)
