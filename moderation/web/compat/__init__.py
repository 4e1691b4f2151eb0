"""Drop-in compatibility endpoints: Perspective (``perspective``) and Akismet (``akismet``).

Each answers in the emulated API's own shapes and errors; both call the service layer like every other
handler (``Moderation.check_text``, ``score_texts``, ``add_feedback_label``). See docs/compat.md.
"""
