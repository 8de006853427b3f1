"""The default reflection lexicon as data (the cue lists of ``lexicon.Lexicon``).

Every cue list below comes from a published rule set (DESIGN §4):

- SEAL (Chen et al. 2025, "SEAL: Steerable reasoning calibration"): steps are
  split on blank lines; a step starting with "Wait" or holding check words is a
  reflection, one starting with "Alternatively" or holding switch words is a
  transition.
- CGRS (certainty-guided reflection suppression): "Wait", "Hmm", "But",
  "Alternatively" as the reflection triggers it suppresses.
- CyclicReflex: "wait", "but", "alternatively" as reflection tokens.
- Speculative Thinking: "wait", "hmm", "hold on", "double-check" at step starts.
- ARLCP: "but", "however", "let me check/verify" as reflection keywords.
- NoWait: suppresses "wait", "hmm", "maybe", "alternatively".
- Understanding-R1-Zero: the keyword pool "recheck", "rethink", "reassess",
  "re-evaluate", "reconsider", "check again", "think again", "verify".

Matching is case-insensitive on word boundaries ("but" never matches "button",
"oh" never "Ohio"). Multi-word cues allow any run of spaces between words.
"""

from __future__ import annotations

from typing import Any

LEXICON_VERSION = "5"

DEFAULT_LEXICON: dict[str, Any] = {
    "version": LEXICON_VERSION,
    # A step *starting* with one of these is a reflection (SEAL, CGRS,
    # CyclicReflex, Speculative Thinking, ARLCP).
    "strong_start": [
        "but wait",
        "wait",
        "hmm",
        "hmmm",
        "hold on",
        "actually",
        "oh",
        "let me check",
        "let me double-check",
        "let me double check",
        "let me verify",
        "let me recheck",
        "let me re-check",
        "let me re-examine",
        "let me reexamine",
        "let me reconsider",
        "is that right",
        "is that correct",
    ],
    # Anywhere in a step: verification and rethinking words (SEAL check words,
    # Understanding-R1-Zero keyword pool, Speculative Thinking "double-check").
    "anywhere": [
        "verify",
        "verifying",
        "make sure",
        "think again",
        "double-check",
        "double check",
        "double-checking",
        "check again",
        "recheck",
        "rechecking",
        "rethink",
        "reassess",
        "re-evaluate",
        "reevaluate",
        "reconsider",
        "let me check",
        "seems right",
        # Doubting one's own work, from our step labels on the shared traces
        # (tests/analysis/data/reflection_labels.json): models question a
        # result without a check word ("I don't think I made any arithmetic
        # errors", "maybe I'm misinterpreting").
        "seems correct",
        "yes, that's right",
        "yep, that's right",
        "yes, that's correct",
        "yep, that's correct",
        "made a mistake",
        "made any mistake",
        "made any mistakes",
        "made an error",
        "made any error",
        "made any errors",
        "made any arithmetic errors",
        "misread",
        "misinterpret",
        "misinterpreted",
        "misinterpreting",
        # Lexicon 3: the outcome of a check stated without a check word. DeltaBench
        # (He et al. 2025) counts a verification section by what it does, and SEAL's
        # reflection thoughts include the "that's right" that closes a re-computation;
        # these families were the misses of lexicon 2 on our labels ("Their sum is
        # indeed 27k^3", "That works.", "I don't see any miscalculations").
        "indeed",
        "checks out",
        "check out",
        "that works",
        "same answer",
        "same result",
        "confirm",
        "confirms",
        "confirmed",
        "confirming",
        "that's correct",
        "that's right",
        "that is correct",
        "that adds up",
        "all adds up",
        "everything adds up",
        "miscalculate",
        "miscalculated",
        "miscalculating",
        "miscalculation",
        "miscalculations",
        "any mistake",
        "any mistakes",
        "any error",
        "any errors",
        "no mistakes",
        "my mistake",
        # Lexicon 4: re-computation and correction named as such (Understanding-
        # R1-Zero's "recheck"/"rethink" family; DeltaBench's verification and
        # error-correction sections), and checks announced with an adverb ("let
        # me just check", "another thing to check") that "let me check" misses.
        "recompute",
        "recomputing",
        "recalculate",
        "recalculating",
        "let me correct",
        "correct that",
        "correct this",
        "correct myself",
        "adds up correctly",
        "add up correctly",
        "sanity check",
        "quick check",
        "another check",
        "one more check",
        "thing to check",
        "let me also check",
        "let me just check",
        "let me quickly check",
        # Lexicon 5: two methods agreeing, or a result that "also works", is the
        # outcome of a cross-check (DeltaBench's verification sections include
        # solving again another way; SEAL's reflection thoughts close with such
        # agreement): "So, both methods give me 28", "So, that also works".
        "both methods",
        "both approaches",
        "both ways",
        "also works",
        "works as well",
        "that works too",
    ],
    # Transitions to another line of attack (SEAL switch words, CyclicReflex, CGRS).
    "transition_start": ["alternatively"],
    "transition_anywhere": [
        "another approach",
        "another way",
        "another method",
        "another solution",
        "another strategy",
        "think differently",
        "different approach",
        # Lexicon 3: the same switch named by its comparison (DeltaBench's strategy
        # shift: "That might be a simpler approach … Let me try that.").
        "different method",
        "different way",
        "simpler approach",
        "simpler way",
        "simpler method",
        "easier approach",
        "easier way",
        "better approach",
        "different angle",
    ],
    # Weak cues count only at a step start and only without a strong cue:
    # "but" (CyclicReflex, CGRS, ARLCP), "however" (ARLCP), "maybe" (NoWait).
    "weak_start": ["but", "however", "no", "perhaps", "maybe"],
    # Lexicon 4: a weak start cue whose first sentence doubts or checks ("But the
    # partial sum is larger, so my conclusion is wrong", "But just to be
    # thorough, let me recompute") is a reflection: ARLCP counts "but"/"however"
    # as reflection keywords, and DeltaBench's reflection sections open this way;
    # without such a word ("But the problem says…") the step stays weak.
    "doubt": [
        "wrong",
        "mistake",
        "mistakes",
        "error",
        "errors",
        "incorrect",
        "not correct",
        "not right",
        "not sure",
        "thorough",
        "recompute",
        "recalculate",
        "check",
        "verify",
        "confirm",
        "make sure",
        "contradiction",
        "contradicts",
        "doesn't make sense",
        "does not make sense",
        "can't be",
        "cannot be",
        "impossible",
        "inconsistent",
        "discrepancy",
        "doesn't match",
        "does not match",
    ],
    # Lexicon 4: a verdict standing as a sentence of its own after arithmetic in
    # the same step closes a re-computation: "120 + 9 = 129. Correct.", "First
    # component: -2, correct.", "… is 940. Yep." SEAL's reflection thoughts end
    # with such verdicts and DeltaBench labels the re-computation they close as
    # verification. The verdict must follow a sentence break ("." "," ":" or a
    # line start) and end its sentence ("." "!" or the line end): "correct" in
    # "the correct answer" never counts. Not "right" ("Hmm, right. So I need
    # to…" acknowledges the problem) nor "perfect" (satisfaction that a division
    # leaves no remainder): on a sample of the corpus they mostly were no check.
    "verdict": [
        "correct",
        "that's correct",
        "that is correct",
        "still correct",
        "that's right",
        "yes",
        "yep",
        "yup",
        "matches",
        "that matches",
        "it matches",
        "checks out",
        "that checks out",
        "adds up",
        "that adds up",
        "consistent",
        "that's consistent",
        "looks good",
        "looks right",
    ],
    # Mid-paragraph reflections: models often write "… = 4. Wait, that seems
    # off." inside one paragraph, so the blank-line split (SEAL, DeltaBench)
    # leaves the doubt inside an execution step. These cues count as a
    # reflection when they open a sentence anywhere in a step ("Hmm" does not:
    # mid-paragraph it is mostly "Hmm, calculating that…").
    "sentence_start": ["wait", "but wait", "hold on"],
    # Planning, not reflection: a reflection cue inside one of these phrases
    # ("to make sure I get all the details") or a step-start cue followed at
    # once by one ("Hmm, let's break this down") announces work ahead rather
    # than re-examining work done. DeltaBench (He et al. 2025) annotators mark
    # such sentences as problem restatement/planning, not reflection; counting
    # them inflated the reflection share of the first steps of R1 distills.
    "planning": [
        "make sure i understand",
        "make sure i get",
        "make sure i have all",
        "make sure i have the",
        "make sure i don't miss",
        "make sure i do not miss",
        "make sure i cover",
        "make sure i read",
        "make sure i'm interpreting",
        "make sure i interpret",
        "make sure i account for",
        "make sure i follow",
        "make sure i know",
        "make sure i consider",
        "let me break this down",
        "let's break this down",
        "let me break it down",
        "let's break it down",
        "let me think",
        "let me start",
        "let's start",
        "let me figure out",
        "first",
        # Lexicon 3: after "Hmm" (and the fillers in ``planning_fillers``) these
        # announce the next piece of work, as in "Hmm, okay. So I need to find the
        # minimum" — problem restatement/planning in DeltaBench's sense.
        "i need to",
        "we need to",
        "i have to",
        "let me parse",
        "let me try to",
        "let me do",
        "let me calculate",
        "let me compute",
        "calculating",
        "computing",
        # Lexicon 4: recalling a fact ("Hmm, I remember that if a matrix acts
        # linearly…") prepares the solution; it re-examines nothing.
        "i remember",
        "i recall",
        "remember that",
        "recall that",
        # Lexicon 5: asking how a formula works is not the outcome "that works".
        "how that works",
        "how this works",
        "how it works",
    ],
    # Step-start cues that a planning phrase right after them turns into
    # planning ("Hmm, first, I need to find…"); "Wait" never is. Also a number
    # with an operator from ``calculation`` right after them ("Hmm, 16 times 3.")
    # starts a calculation, not a doubt.
    "planning_start": ["hmm", "hmmm"],
    # Words that may stand between a ``planning_start`` cue and the planning
    # phrase ("Hmm, okay. So, I need to…", "Hmm, okay. Now, I need to…").
    # Lexicon 5: "right" too ("Hmm, right. So I need to add…" acknowledges and
    # plans; it doubts nothing).
    "planning_fillers": ["okay", "ok", "alright", "all right", "right", "so", "well", "now"],
    # Lexicon 5: interjections and switch cues that need earlier work to react to.
    # Before the thinking has produced any result (no "<number> =", "= <number>"
    # or "<number> is <number>" before the cue), "Wait, $60 less than May?",
    # "Oh, so each dot is a student" or "Wait, another formula I remember is
    # Heron's" read the problem or pick the first method: there is nothing yet to
    # re-examine or to switch away from. DeltaBench (He et al. 2025) annotates
    # such openings as problem restatement/planning, and SEAL's reflection and
    # transition thoughts are defined against earlier reasoning. "But wait" is
    # not listed: "But" contrasts with the sentence before it, the model's own
    # claim ("…it's a combination problem. But wait, does the order matter?").
    # Cue matching for these is on the cue as found; the first-result test is
    # in ``classify`` (``_has_worked``).
    "opening": [
        "wait",
        "hmm",
        "hmmm",
        "oh",
        "hold on",
        "actually",
        "alternatively",
        "another approach",
        "another way",
        "another method",
        "another solution",
        "another strategy",
        "different approach",
        "different method",
        "different way",
    ],
    # Arithmetic operators of "<number> <operator>" after a planning_start cue.
    "calculation": [
        "times",
        "plus",
        "minus",
        "divided by",
        "multiplied by",
        "x",
        "*",
        "+",
        "-",
        "/",
        "\u00d7",
    ],
    # Inside a reflection step these mark the *verification* subtype (SEAL's
    # check words; substituting back / plugging in is how models verify).
    "verification": [
        "check",
        "checking",
        "verify",
        "verifying",
        "verified",
        "double-check",
        "double check",
        "recheck",
        "substitute back",
        "substituting back",
        "plug in",
        "plugging in",
        "plug it back",
        "plugging it back",
    ],
}
