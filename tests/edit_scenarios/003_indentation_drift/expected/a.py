class A:
    def f(self):
        if self.x:
            log('hit')
            return 2
        return 0
