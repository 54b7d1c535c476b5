class Circle:
    name = "circle"

    def area(self, scale=1):
        size = self.size * scale
        return size


class Square:
    name = "square"

    def area(self, scale=1):
        size = self.size * scale
        return size


class Triangle:
    name = "triangle"

    def area(self, scale=1):
        size = self.size * scale
        return size / 2
