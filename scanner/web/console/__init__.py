"""The MSP console (issue 19): portfolio, client pages and sensors behind a login, in gapscan web."""
