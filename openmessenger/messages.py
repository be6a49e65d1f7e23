"""
Messages for people that the web pages translate: the English text with its
values filled in (what logs and the command-line tool print), which still
knows its template, so a German page can fill in the German one.
"""


class Message(str):
    def __new__(cls, template, **values):
        # Without values the text is taken as it is: it may have braces of
        # its own (one that came over the control channel, already filled).
        message = str.__new__(cls, template.format(**values) if values else template)
        message.template = template
        message.values = values
        return message

    def translated(self, catalogue):
        text = catalogue.get(self.template, self.template)
        return text.format(**self.values) if self.values else text


def reason(error):
    """
    What an exception says, as a L{Message} when it was raised with one.
    """
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
