"""
Tests for L{openmessenger.web.inputs}: what a browser sends, cleaned as it
enters.
"""

import io

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from openmessenger.web.inputs import BadInput, arguments, jsonBody


def request(args=None, body=b"", contentType=b"application/json"):
    made = DummyRequest([b""])
    made.args = args or {}
    made.content = io.BytesIO(body)
    made.requestHeaders.setRawHeaders(b"content-type", [contentType])
    return made


class ArgumentsTests(SynchronousTestCase):
    def test_cleanedLastValue(self):
        """
        The last value of each name, control characters gone, invalid UTF-8
        replaced; stripped on request.
        """
        made = request({b"name": [b"first", b" Evil\x01Corp\xff "], b"k\x00ey": [b"v"]})
        self.assertEqual(arguments(made), {"name": " EvilCorp\ufffd ", "key": "v"})
        self.assertEqual(arguments(made, strip=True)["name"], "EvilCorp\ufffd")


class JSONBodyTests(SynchronousTestCase):
    def test_stringsCleanedEverywhere(self):
        """
        Every string of a JSON body, nested ones and keys too, is cleaned.
        """
        body = b'{"name": "M\\u0001allory", "parameters": [["K\\u001bey", "v\\ud800"]], "n": 3}'
        self.assertEqual(jsonBody(request(body=body)),
                         {"name": "Mallory", "parameters": [["Key", "v"]], "n": 3})

    def test_refused(self):
        """
        Another content type, malformed JSON or a non-object is refused.
        """
        for made in (request(body=b"{}", contentType=b"text/plain"), request(body=b"{"),
                     request(body=b"[1]")):
            self.assertRaises(BadInput, jsonBody, made)
