"""Everything the line texts on its own, in English and Spanish.

Warm, short, and always with a way to emergency help. The emergency resources come from deploy parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerline.language import Language

_TEXTS: dict[str, dict[Language, str]] = {
    "welcome": {
        Language.ENGLISH: (
            "Peerline: you've reached a free, confidential peer support text line. A trained peer volunteer will "
            "text with you soon. {emergency} Text STOP to stop, HELP for help. "
            "May we keep anonymous information about this chat (never your number or your words) to improve the "
            "line? Reply YES or NO. Either way, we're here for you."
        ),
        Language.SPANISH: (
            "Peerline: te comunicaste con una línea de apoyo entre pares, gratuita y confidencial. Una persona "
            "voluntaria capacitada te escribirá pronto. {emergency} Envía STOP para salir, HELP para ayuda. "
            "¿Podemos guardar información anónima de esta conversación (nunca tu número ni tus palabras) para "
            "mejorar la línea? Responde SÍ o NO. De cualquier forma, estamos aquí para ti."
        ),
    },
    "welcome_back": {
        Language.ENGLISH: "Welcome back to Peerline. You'll get our texts again.",
        Language.SPANISH: "Bienvenido de nuevo a Peerline. Volverás a recibir nuestros mensajes.",
    },
    # A texter back within the returning window: no second consent question (their earlier answer stands).
    "returning": {
        Language.ENGLISH: (
            "Welcome back to Peerline. We're finding someone to text with you now; you can keep texting while you "
            "wait. {emergency}"
        ),
        Language.SPANISH: (
            "Qué bueno que vuelvas a Peerline. Estamos buscando a alguien para que converse contigo; puedes seguir "
            "escribiendo mientras esperas. {emergency}"
        ),
    },
    "consent_given": {
        Language.ENGLISH: "Thank you. We'll keep only anonymous information about this chat.",
        Language.SPANISH: "Gracias. Solo guardaremos información anónima de esta conversación.",
    },
    "consent_refused": {
        Language.ENGLISH: "Understood, we won't keep anything about this chat.",
        Language.SPANISH: "Entendido, no guardaremos nada de esta conversación.",
    },
    "finding": {
        Language.ENGLISH: (
            "We're finding someone to text with you now. It can take a few minutes; you can keep texting "
            "while you wait."
        ),
        Language.SPANISH: (
            "Estamos buscando a alguien para que converse contigo. Puede tardar unos minutos; puedes seguir "
            "escribiendo mientras esperas."
        ),
    },
    "still_waiting": {
        Language.ENGLISH: (
            "We haven't forgotten you: everyone is busy right now, and you're still in line for the next "
            "volunteer. {emergency}"
        ),
        Language.SPANISH: (
            "No nos olvidamos de ti: todos están ocupados ahora y sigues en la fila para la próxima persona voluntaria. "
            "{emergency}"
        ),
    },
    "stopped": {
        Language.ENGLISH: (
            "You're unsubscribed from Peerline and won't get more texts. Text START to come back anytime. {emergency}"
        ),
        Language.SPANISH: (
            "Cancelaste los mensajes de Peerline y no recibirás más. Envía START para volver cuando quieras. "
            "{emergency}"
        ),
    },
    # DELETE / BORRAR: what was erased, and that texting again starts fresh.
    "erased": {
        Language.ENGLISH: (
            "Peerline erased what it kept about you: your encrypted number, your conversation and its notes. "
            "If you text again, you start fresh. {emergency}"
        ),
        Language.SPANISH: (
            "Peerline borró lo que guardaba sobre ti: tu número cifrado, tu conversación y sus notas. "
            "Si vuelves a escribir, empiezas de cero. {emergency}"
        ),
    },
    # Once per block: a blocked texter's texts reach no volunteer (a crisis text still gets the safety text).
    "blocked": {
        Language.ENGLISH: "This line can't continue this conversation right now. {emergency}",
        Language.SPANISH: "Esta línea no puede continuar esta conversación ahora. {emergency}",
    },
    "safety": {
        Language.ENGLISH: (
            "We're really glad you reached out, and your safety matters most right now. {emergency} "
            "We're bringing in someone trained to help — please stay with us and keep texting."
        ),
        Language.SPANISH: (
            "Nos alegra mucho que nos escribieras, y tu seguridad es lo más importante ahora. {emergency} "
            "Estamos llamando a una persona capacitada para ayudarte; quédate con nosotros y sigue escribiendo."
        ),
    },
    "acknowledged": {
        Language.ENGLISH: "Peerline: escalation acknowledged. Thank you.",
        Language.SPANISH: "Peerline: escalamiento confirmado. Gracias.",
    },
    "joined": {
        Language.ENGLISH: "You're now texting with {name}, a trained peer volunteer. What's on your mind?",
        Language.SPANISH: "Ahora estás conversando con {name}, del equipo de voluntariado capacitado. ¿Qué te preocupa?",
    },
    # After a safety text: who is joining, and no generic question ("What's on your mind?") in a crisis.
    "joined_crisis": {
        Language.ENGLISH: "{name}, a trained peer volunteer, is joining you now. You're not alone.",
        Language.SPANISH: "{name}, del equipo de voluntariado capacitado, se une a la conversación ahora. No estás a solas con esto.",
    },
    "closed": {
        Language.ENGLISH: "Thank you for reaching out to Peerline. You can text us again anytime. {emergency}",
        Language.SPANISH: "Gracias por comunicarte con Peerline. Puedes escribirnos cuando quieras. {emergency}",
    },
    "closed_inactive": {
        Language.ENGLISH: (
            "We haven't heard from you in a while, so we've closed this conversation. Text us again anytime. "
            "{emergency}"
        ),
        Language.SPANISH: (
            "No hemos sabido de ti en un rato, así que cerramos esta conversación. Escríbenos cuando quieras. "
            "{emergency}"
        ),
    },
    "help": {
        Language.ENGLISH: (
            "Peerline is a free, confidential peer support text line. Text us anything to reach a trained peer "
            "volunteer. {emergency} Text STOP to opt out, DELETE to erase what we keep about you."
        ),
        Language.SPANISH: (
            "Peerline es una línea de apoyo entre pares, gratuita y confidencial. Escríbenos lo que quieras para "
            "hablar con una persona voluntaria capacitada. {emergency} Envía STOP para salir, BORRAR para borrar lo que "
            "guardamos sobre ti."
        ),
    },
}


@dataclass(frozen=True)
class ReplyBook:
    """The line's own texts with the deployment's emergency resources filled in."""

    emergency_resources: str
    emergency_resources_es: str

    def text(self, reply: str, language: Language, **values: str) -> str:
        """The reply named ``reply`` in ``language`` (``values`` fill placeholders such as a volunteer's ``name``)."""
        emergency = self.emergency_resources_es if language is Language.SPANISH else self.emergency_resources
        return _TEXTS[reply][language].format(emergency=emergency, **values)
