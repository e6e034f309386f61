"""Every knob that shapes what the digest says, in one place, each with what it trades.

The stages read their defaults from here; the ones a user may want to change per deployment are
also resource or asset config (named beside each). Change a value here, then run
`scripts/benchmark.sh quality` and compare the tuning set with the held-out set: a change that
helps only the set it was tried on is tuning, not a fix.
"""

# --- audio (assets/episode_audio.py) --------------------------------------------------------
# Stored audio that decodes to less than this share of the duration its feed declares is a
# truncated download: a failures row, not a transcript. Higher: a feed's rounded or padded
# duration flags good files; lower: a file cut short is transcribed as if whole.
TRUNCATED_RATIO = 0.5

# --- transcription (resources/models.py Transcriber) -------------------------------------------
# Whisper is prompted with the feed's words about the episode (show title, episode title,
# description; lib/decoding.py feed_prompt), at most this many of them (Whisper reads at most
# 223 prompt tokens, about 170 words, and keeps the last). The shows' names and terms are then
# heard as written. The stored transcripts' word error rate (scripts/benchmark.sh quality, this
# machine), without and with the prompt: tuning set 0.236 -> 0.207, development set 0.339 ->
# 0.260, no slower. Beam 5 with the prompt (Transcriber.beam_size) cut it further but moved
# the digests no better (tuning citation accuracy 0.966 -> 0.934) at 1.5x the transcription
# time. Higher: more of long show notes (links, sponsors) in the prompt; 0: no prompt.
PROMPT_WORDS = 120

# --- claims (lib/claims.py, assets/claims.py) ---------------------------------------------
# Sentences with fewer words are fragments. Lower: more half-sentences ("And then it fell.")
# become claims; higher: short real claims ("Rates fell again.") are lost.
MIN_TOKENS = 6
# Kept as a claim when the classifier finds it more likely a claim than show talk: the even odds
# of a calibrated logistic regression. Higher: fewer chatty false claims, more real ones lost.
CLAIM_PROBABILITY = 0.5
# Where a sentence sits changes the odds that it is a claim: the classifier's balanced odds are
# moved (Bayes' rule) to the share of claims among an episode's first and last EDGE_SENTENCES
# sentences, and among the rest. An opening or closing line that names the show ("This is
# Pocket Change") is show frame by rule (lib/claims.py names_show); the edge share is that of
# the edge lines the rule leaves. An episode whose first EDGE_SENTENCES sentences do not name
# the show opens on the news, and its opening counts as body: a show introduces itself when it
# opens, but need not when it signs off (closings without the show's name are still mostly
# outro: 2 claims in 8 lines). Not tuned: the shares are counted from the labelled lines of the
# tuning and development sets (benchmarks/labelled_shows.yaml, development_shows.yaml: 16 of
# the 58 edge lines left are claims; 138 of 199 body lines, among them the 4 lines of openings
# without the show's name, all claims; counted over all 112 edge lines the share was 0.18,
# which threw away the headlines of shows that open on the news). The held-out set is not
# counted. A wider edge: more intros and outros caught, more opening headlines lost.
EDGE_SENTENCES = 2
EDGE_CLAIM_SHARE = 0.28
BODY_CLAIM_SHARE = 0.69
# Sentences between two sponsor-shaped lines (an opening like "support for the show comes from",
# a web address, a promo code) at most this many apart are the same read: its pitch. Higher:
# longer reads caught, but a news sentence between two ads would be lost; 0: only the shaped
# lines themselves.
SPONSOR_READ_GAP = 3
# Two sentences of one show, in different episodes, this close (cosine of MiniLM embeddings)
# are the show repeating itself (tagline, intro, ad). Lower: a show's recurring subject is
# mistaken for its tagline; higher: a reworded tagline slips through.
SHOW_REPEAT_SIMILARITY = 0.85
# How far back a show's earlier episodes count when looking for its repeated lines.
SHOW_REPEAT_WINDOW_DAYS = 7

# --- topics (lib/topics.py, resources/models.py TopicModeler, assets/topics.py) -----------------
# Claims of the day and the days before it are clustered together (TopicsConfig.window_days),
# so a small day still clusters; longer: slower, and old themes crowd new ones.
TOPIC_WINDOW_DAYS = 7
# How far back a theme keeps its id (TopicsConfig.id_lookback_days), and how close (cosine of
# centroids) today's cluster must be to an earlier topic to take its id. Lower similarity: ids
# survive a theme's drift, but different themes may share an id.
TOPIC_ID_LOOKBACK_DAYS = 30
STABLE_ID_SIMILARITY = 0.75
# Below this many claims, cluster without UMAP (agglomerative on the embeddings): UMAP needs
# neighbours, and its spectral layout fails on tiny inputs.
UMAP_MIN_DOCS = 40
UMAP_NEIGHBORS = 10
UMAP_COMPONENTS = 5
HDBSCAN_MIN_CLUSTER_SIZE = 3
# Agglomerative clustering's cosine distance: clusters whose claims are on average closer than
# this join. Higher: broader topics (two themes may merge); lower: a theme splits in two.
SMALL_DISTANCE_THRESHOLD = 0.55
# After clustering: clusters whose centres are this close are one theme (merge: every part of
# one this close to every part of the other, so a joined centre cannot pull in a related theme:
# regional banks joined stablecoins that way on the tuning set, 0.54-0.56 from each part); a
# claim this far from every centre leaves its topic (keep); an outlier this close to a centre
# joins (join).
# Higher merge: split themes stay split; lower: related themes merge. Higher keep/join: purer
# topics with fewer claims; lower: more claims, some off-theme.
MERGE_SIMILARITY = 0.6
KEEP_SIMILARITY = 0.35
JOIN_SIMILARITY = 0.5

# A show talks about a subject for a stretch. Two lone claims said one after another in one
# episode, at least this close, are one topic (lib/topics.py stretches). Counted from the tuning
# and development sets' adjacent claims (not the held-out set): same-theme pairs have a median
# cosine of 0.35, pairs across a change of subject 0.15; this is halfway. Lower: a change of
# subject is missed and two themes share a topic; higher: a garbled stretch stays in pieces.
STRETCH_SIMILARITY = 0.25

# Each claim is clustered as its embedding plus this much of the closest phrase the feed wrote
# about its episode (title and description, lib/topics.py with_notes), when that phrase is at
# least NOTE_SIMILARITY close. The publisher names the episode's subjects in plain words, where
# the transcript garbles them and two shows word one theme apart. Tried at 1.0 and 0.5 on the
# tuning and development sets (seed 42; the held-out set not looked at): both mended the
# development set's egg prices, which had clustered with coffee; 1.0 split a tuning theme in two.
# 0: the claims alone (the feed's notes unused); higher: an episode's claims follow its notes
# more than their own words, so a vague description can pull two subjects together.
NOTE_WEIGHT = 0.5
# Below this a claim's closest note is not about it (a different subject of the episode, or a
# description with nothing on it): the claim is clustered alone. Lower: more claims take a
# note, some the wrong one; higher: fewer claims are helped.
NOTE_SIMILARITY = 0.3

# --- ranking (lib/ranking.py RankingRules, assets/digest.py DigestConfig) ----------------------
TOP_K = 5  # insights a day (DigestConfig.top_k)
# Themes this many shows discussed rank above all others (DigestConfig.min_podcasts). Higher:
# fewer themes count as broad; lower: one show's hobbyhorse leads the digest.
MIN_PODCASTS = 2
# A topic featured before counts this much when it comes back with something new. Lower: more
# room for new themes; higher: a big running story keeps its place.
RECURRING_WEIGHT = 0.6
# How much closeness to an already chosen insight costs (maximal marginal relevance). Higher: a
# more varied five; lower: the strongest themes even when related.
MMR_LAMBDA = 0.3
# Two topics whose centres (the day's claims) are this close say the same thing: only one is
# chosen; related themes that are not this close are ordered apart by MMR_LAMBDA, not excluded.
# Measured, not tuned to a set: the seed document's eleven insights that say one thing, in two
# groups of two, have centres at cosine 0.70 or more (0.52 for the least alike single pair);
# two distinct themes of the tuning and development days reach 0.61 (regional banks and
# stablecoins, whose centres move about 0.59-0.61 with the clustering's seed), and two topics
# of one labelled theme (a theme split by clustering) at most 0.45, which no similarity can
# catch. At 0.6 the rule only ever shut out distinct themes (the tuning set lost regional
# banks at three seeds in four). Lower: related themes are lost; higher: repeats slip through.
DUPLICATE_SIMILARITY = 0.7
# A lone claim (a one-claim candidate) from an episode a chosen insight already cites, whose
# nearest chosen insight is that one, at least this close (cosine of centres), is likely a
# part of that insight that clustering split off: it ranks after every other candidate. A
# candidate of several claims is a theme of its own, even in episodes a big story also fills.
# Lower: more split-off parts caught, but a second theme of the same episodes waits longer;
# higher: split-off parts fill places as if they were themes of their own (duplicates).
STRAY_SIMILARITY = 0.2
# Earlier digests looked at for novelty (DigestConfig.novelty_lookback_days), and the word
# overlap (Jaccard) at which a claim repeats what an earlier citation said.
NOVELTY_LOOKBACK_DAYS = 14
REPEAT_JACCARD = 0.7
# A headline longer than this many words is likely a run-on (a transcriber's missed full stop).
RUN_ON_WORDS = 32

# --- voices (lib/voices.py, assets/voices.py) -----------------------------------------------
# Segments' speaker embeddings (resemblyzer, cosine) at least this close on average are one
# voice. Higher: one voice splits in two (fewer lines named, never a wrong name); lower: two
# voices merge, and a name would spread onto the other voice's words.
VOICE_SAME_SIMILARITY = 0.8
# A segment is named only when it is this much closer to its own voice than to any other.
# Higher: fewer lines named; lower: a line between two voices may take the wrong one's name.
VOICE_MARGIN = 0.05
# Names are given only when at least as many voices as the feed lists people each speak this
# share of an episode's segments; fewer means two people were heard as one voice. Higher: fewer
# episodes named (a quiet guest stops all naming); lower: a merged voice may carry a name.
VOICE_MIN_SHARE = 0.15
# Segments shorter than this carry too little voice to embed; they stay without a voice.
VOICE_MIN_SEGMENT_S = 1.0
# Segments at least this long make the voices (two of the encoder's 1.6-s windows, 0.77 s
# apart); shorter ones only join the voice they are closest to. Higher: fewer segments decide
# the voices (an episode of short turns may have none, and then all decide); lower: noisy short
# lines form voices of their own while two real voices merge.
VOICE_RELIABLE_S = 2.4
# A segment's voice is the mean of at most this many 1.6-s windows' embeddings, spread evenly
# over it (the encoder's default takes one every 0.77 s: 38 for a 30-s segment). The encoder's
# cost is linear in them. Fewer: faster, a noisier voice on long segments; more: the reverse.
VOICE_MAX_PARTIALS = 6
