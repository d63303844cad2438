def text():
    return "first line\nsecond line that is rather long so that it would wrap somewhere past eighty columns\n"
