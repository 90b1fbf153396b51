"""Digests by mail: selection (compose, recommend), rendering, the outbox and SMTP delivery.

Submodules are imported explicitly (``from papertide.mail import send``); importing this
package loads nothing else, so Settings can import ``mail.settings`` cheaply.
"""
