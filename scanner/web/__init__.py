"""gapscan web: the one small web application of gapscan (issues 18 and 19).

A composer beside the CLI (it may import the history store, the reports and the configuration;
nothing below it imports it). ``app.create_app`` builds the Starlette app from an opened store
and an *auth mode*; routes are grouped by area:

- ``scanner.web.local``: the technician's local pages, used on site with the practice: the
  interview worksheets and the owner's sign-off (auth mode ``LocalToken``: loopback only, a
  token made for this run of the server, printed in its URL).
- the MSP console of issue 19 adds its own area package (pages behind a staff login) and its own
  auth mode; ``create_app`` takes both as parameters.

Every page is rendered by jinja2 with autoescape, served with a Content-Security-Policy that
allows nothing from outside the app (``security.py``), and every form carries a CSRF token.
"""
