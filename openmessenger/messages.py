"""
Messages for people that the web pages translate: the English text with its
values filled in (what logs and the command-line tool print), which still
knows its template, so a German page can fill in the German one.
"""


class Message(str):
    def __new__(cls, template, **values):
        message = str.__new__(cls, template.format(**values))
        message.template = template
        message.values = values
        return message

    def translated(self, catalogue):
        return catalogue.get(self.template, self.template).format(**self.values)


def reason(error):
    """
    What an exception says, as a L{Message} when it was raised with one.
    """
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
