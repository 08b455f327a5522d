"""What the engine *says*: render templates into emails and hand them to a channel.

    render_message(kind, language, context) -> Rendered     notifications.render
    build_email(rendered, message_id=..., ...) -> EmailMessage   notifications.message
    channel_from_settings(settings) -> Channel              notifications.channels

Imports only the stdlib, jinja2, pydantic(-settings) and `states.errors`.
"""
