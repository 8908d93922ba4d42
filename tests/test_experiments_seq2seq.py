"""course_lib.experiments.seq2seq / .sentiment: batches, the masked loss, decoding, and the bag-of-words invariance."""
import torch

from course_lib import data, ref
from course_lib import nn as cnn
from course_lib.experiments import seq2seq as S2S
from course_lib.experiments import sentiment as SENT


def test_translation_batches_shift_the_target_and_the_loss_is_the_masked_cross_entropy():
    pairs = data.date_pairs(20, 1, 2, seed=0)
    task = S2S.Translation(pairs)
    src, lengths, tgt_in, tgt_out = task.batch(pairs[:5])
    assert tgt_in.shape == tgt_out.shape and (tgt_in[:, 0] == task.tgt_vocab.bos_id).all()
    assert torch.equal(tgt_in[:, 1:][tgt_out[:, :-1] != 0], tgt_out[:, :-1][tgt_out[:, :-1] != 0])
    assert ((tgt_out == task.tgt_vocab.eos_id).sum(1) == 1).all()
    torch.manual_seed(0)
    model = cnn.Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), 8, 8, attention="dot", dtype=torch.float64)
    loss = S2S.masked_loss(model, (src, lengths, tgt_in, tgt_out))
    logits, _ = model(src, lengths, tgt_in)
    want, _ = ref.temporal_softmax_loss(logits.detach().numpy(), tgt_out.numpy(), (tgt_out != 0).numpy())
    assert abs(loss.item() - want) < 1e-12


def test_decode_and_accuracy_by_length_and_exposure_bias_on_an_untrained_model():
    pairs = data.date_pairs(30, 1, 2, seed=1)
    task = S2S.Translation(pairs)
    torch.manual_seed(1)
    model = cnn.Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), 8, 8, attention="additive")
    g = S2S.decode(model, task, pairs, batch_size=7)
    b = S2S.decode(model, task, pairs, beam_width=3, alpha=0.0)
    assert len(g.outputs) == len(b.outputs) == 30 and g.correct.shape == (30,)
    assert b.log_prob.mean() >= g.log_prob.mean()             # alpha = 0: both rank by the raw log-probability
    assert len(g.weights) == 30 and all(w.shape[1] == n for w, n in zip(g.weights, g.src_lengths))
    rows = S2S.accuracy_by_length(g, [7, 10, 20])
    assert sum(n for *_, n in rows) == 30
    eb = S2S.exposure_bias(model, task, pairs)
    assert eb.teacher.shape == eb.free.shape == eb.counts.shape and 0 <= eb.free_accuracy <= 1


def test_the_bag_of_words_model_cannot_see_order_and_the_gru_can():
    d = data.sentiment_sentences(50, seed=0)
    vocab = data.TokenVocab(d.tokens)
    ids, lengths, labels = SENT.tensors(d, vocab)
    perm = torch.stack([torch.cat([torch.randperm(int(n)), torch.arange(int(n), ids.shape[1])]) for n in lengths])
    shuffled = torch.gather(ids, 1, perm)
    torch.manual_seed(0)
    bow, gru = SENT.BagOfWords(len(vocab)).double(), SENT.GRUClassifier(len(vocab)).double()
    torch.testing.assert_close(bow(ids, lengths), bow(shuffled, lengths))
    assert (gru(ids, lengths) - gru(shuffled, lengths)).abs().max() > 1e-6
    acc, correct = SENT.accuracy(bow, ids, lengths, labels)
    assert correct.shape == (50,) and 0 <= acc <= 1
