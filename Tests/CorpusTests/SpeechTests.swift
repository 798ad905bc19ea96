import Common
import TestSupport
import XCTest
@testable import Corpus

extension Phone {
    /// espeak-ng's pauses are the phonemes starting with `_`.
    var isPause: Bool { phoneme.hasPrefix("_") }
}

final class SpeechTests: XCTestCase {
    /// RMS of `samples[from ..< to]` (indices clamped).
    func rms(_ samples: [Float], _ from: Int, _ to: Int) -> Float {
        let lo = max(0, from), hi = min(samples.count, to)
        guard hi > lo else { return 0 }
        var sum: Float = 0
        for i in lo..<hi { sum += samples[i] * samples[i] }
        return (sum / Float(hi - lo)).squareRoot()
    }

    func testPhoneTimelineAgreesWithAudio() throws {
        let synth = try SpeechSynthesizer()
        XCTAssertEqual(synth.nativeRate, 22050)
        let u = try synth.synthesize("Father saw the blue moon, and we walked home.", voice: Voice(name: "en+m3"))
        let x = u.audio.samples, rate = Double(u.audio.sampleRate)
        XCTAssertEqual(u.audio.sampleRate, 16000)
        XCTAssertGreaterThan(u.phones.count, 20)
        // Phones tile the audio: contiguous, increasing, ending where the audio ends.
        for (a, b) in zip(u.phones, u.phones.dropFirst()) {
            XCTAssertEqual(a.end, b.start, accuracy: 1e-9)
            XCTAssertLessThan(a.start, a.end)
        }
        XCTAssertEqual(u.phones.last!.end, u.audio.duration, accuracy: 0.002)
        let loud = rms(x, 0, x.count)
        // Every vowel carries speech energy.
        let vowels = u.phones.filter { ["A:", "O:", "u:", "@", "a", "oU", "E", "i:"].contains($0.phoneme) }
        XCTAssertGreaterThan(vowels.count, 5)
        for v in vowels {
            let e = rms(x, Int(v.start * rate), Int(v.end * rate))
            XCTAssertGreaterThan(e, 0.3 * loud, "vowel \(v.phoneme) at \(v.start) s is quiet")
        }
        // Pauses (the comma, the ends) are near-silent, except their first 20 ms where the
        // previous sound decays.
        let pauses = u.phones.filter { $0.isPause && $0.end - $0.start > 0.05 }
        XCTAssertGreaterThan(pauses.count, 0, "no pause phone: \(u.phones.map(\.phoneme))")
        for p in pauses {
            let e = rms(x, Int((p.start + 0.02) * rate), Int(p.end * rate))
            XCTAssertLessThan(e, 0.05 * loud, "pause at \(p.start) s is loud")
        }
        // Speech starts inside the first sounding phone, not before it.
        let firstSound = u.phones.first { !$0.isPause }!
        let onset = x.firstIndex { abs($0) > 0.02 * x.map(abs).max()! }!
        XCTAssertGreaterThanOrEqual(Double(onset) / rate, firstSound.start - 0.005)
        XCTAssertLessThan(Double(onset) / rate, firstSound.end)
    }

    func testUnknownVoiceIsAnInputError() throws {
        let synth = try SpeechSynthesizer()
        XCTAssertThrowsError(try synth.validate(Voice(name: "xx-no-such-voice"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("xx-no-such-voice: "), "\(error)")
        }
        XCTAssertThrowsError(try synth.validate(Voice(name: "en", pitch: 50, rate: 10)))
        XCTAssertNoThrow(try synth.validate(Voice(name: "en+f2", pitch: 60, rate: 160)))
    }

    func testResamplerKeepsATone() {
        // 1 kHz sine at 22050 Hz → 16 kHz: same amplitude and frequency.
        let input = (0..<22050).map { Float(sin(2 * Double.pi * 1000 * Double($0) / 22050)) }
        let out = resample(input, from: 22050, to: 16000)
        XCTAssertEqual(out.count, 16000)
        for n in stride(from: 1000, to: 15000, by: 997) {
            XCTAssertEqual(Double(out[n]), sin(2 * Double.pi * 1000 * Double(n) / 16000), accuracy: 0.01)
        }
    }

    func testSentencesAreSeeded() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), c = SeededGenerator(seed: 8)
        let s = SentenceGenerator.sentence(words: 6, using: &a)
        XCTAssertEqual(s, SentenceGenerator.sentence(words: 6, using: &b))
        XCTAssertNotEqual(s, SentenceGenerator.sentence(words: 6, using: &c))
        XCTAssertEqual(s.split(separator: " ").count, 6)
        XCTAssertTrue(s.hasSuffix("."))
    }

    func testGridSentencesFillTheSlotsInOrderAndUseEveryWord() {
        var g = SeededGenerator(seed: 3)
        var seen = SentenceGenerator.gridSlots.map { _ in Set<String>() }
        for _ in 0..<200 {
            let text = SentenceGenerator.sentence(words: 15, grammar: .grid, using: &g)
            let words = text.dropLast().split(separator: " ").map(String.init)
            XCTAssertEqual(words.count, 15)
            for (i, word) in words.enumerated() {
                let slot = i % 6
                // the capitalised first word is still its slot's word
                let canonical = SentenceGenerator.gridSlots[slot].first { $0.lowercased() == word.lowercased() }
                XCTAssertNotNil(canonical, "\(word) at position \(i) is not a word of slot \(slot): \(text)")
                canonical.map { seen[slot].insert($0) }
            }
        }
        // 500 draws per slot of at most 23 words: every word occurs
        XCTAssertEqual(seen.map(\.count), SentenceGenerator.gridSlots.map(\.count))
    }
}

final class MouthModelTests: XCTestCase {
    /// Phones of equal length `d` from time 0.
    func phones(_ names: [String], _ d: Double = 0.08) -> [Phone] {
        names.enumerated().map { Phone(phoneme: $1, start: Double($0) * d, end: Double($0 + 1) * d) }
    }

    func testRoundingIsAnticipatedAcrossConsonants() {
        // "s t r u:" vs "s t r i:": the /s/ 0.2 s before the vowel already differs in rounding,
        // so a 0.2 s window around the /s/ (consonants only) cannot tell the lip shape.
        let model = MouthModel()
        let names = ["_", "_", "s", "t", "s", "t"]
        let rounded = model.shapes(for: phones(names + ["u:", "u:", "_"]), frameCount: 23)
        let spread = model.shapes(for: phones(names + ["i:", "i:", "_"]), frameCount: 23)
        let sFrame = Int(0.28 * 25) // centre of the /s/ at 0.24 – 0.32 s; the vowel starts at 0.48 s
        XCTAssertGreaterThan(rounded[sFrame].rounding - spread[sFrame].rounding, 0.25)
        XCTAssertLessThan(rounded[sFrame].width, spread[sFrame].width - 0.2)
        // At the vowels themselves the difference is large.
        XCTAssertGreaterThan(rounded[13].rounding, 0.8)
        XCTAssertLessThan(spread[13].rounding, 0.1)
    }

    func testBilabialsCloseTheJawBetweenOpenVowels() {
        let shapes = MouthModel().shapes(for: phones(["A:", "A:", "m", "A:", "A:"]), frameCount: 10)
        let mFrame = 5 // 0.2 s: the centre of /m/ (0.16 – 0.24 s)
        XCTAssertLessThan(shapes[mFrame].jaw, 0.2)
        XCTAssertGreaterThan(shapes[1].jaw, 0.6)
    }

    func testSpeakerJawScaleAndRest() {
        let p = phones(["_", "a", "a", "_"])
        let small = MouthModel(jawScale: 0.8).shapes(for: p, frameCount: 8)
        let big = MouthModel(jawScale: 1.2).shapes(for: p, frameCount: 8)
        XCTAssertGreaterThan(big[3].jaw, small[3].jaw * 1.4)
        XCTAssertEqual(MouthModel().shapes(for: [], frameCount: 3), [.rest, .rest, .rest])
    }

    /// Corpus version 2: two utterances that differ only in their last vowel, /u:/ against /i:/,
    /// after a consonant cluster. The audio before that vowel is the same, the mouth 300 ms and
    /// more before it is not (version 1's mouth there differs far less).
    func testVersion2RoundsTheLipsAtLeast300MsAheadOverUnchangedAudio() throws {
        let synthesizer = try SpeechSynthesizer()
        let texts = ["The masks stoop.", "The masks steep."]
        let rounded = try synthesizer.synthesize(texts[0], voice: Voice(name: "en+m3"))
        let spread = try synthesizer.synthesize(texts[1], voice: Voice(name: "en+m3"))
        let vowel = try XCTUnwrap(rounded.phones.firstIndex { $0.phoneme == "u:" })
        XCTAssertEqual(spread.phones[vowel].phoneme, "i:")
        // In one process espeak-ng's timing drifts by a fraction of a millisecond with what it
        // synthesised before (see SpeechSynthesizer): the same phones up to the vowel, within 1 ms.
        for (a, b) in zip(rounded.phones[..<vowel], spread.phones[..<vowel]) {
            XCTAssertEqual(a.phoneme, b.phoneme)
            XCTAssertEqual(a.start, b.start, accuracy: 0.001)
        }
        let onset = rounded.phones[vowel].start
        // The audio up to 300 ms before the vowel, each text from a fresh espeak-ng process
        // (the same library and voice): the same bytes.
        let scratch = ScratchDir("coarticulation")
        let waves = try texts.enumerated().map { k, text -> Data in
            let path = scratch.path("\(k).wav")
            let result = try TestSupport.run("/usr/bin/espeak-ng", ["-v", "en+m3", "-w", path, text])
            XCTAssertEqual(result.status, 0, result.stderr)
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        // 16-bit mono at espeak-ng's rate after a 44-byte header (whose length fields differ).
        let stretch = 44 + 2 * Int((onset - 0.3) * Double(synthesizer.nativeRate))
        XCTAssertGreaterThan(stretch, 44 + 2 * 4000)
        XCTAssertGreaterThan(min(waves[0].count, waves[1].count), stretch)
        XCTAssertEqual(waves[0][44..<stretch], waves[1][44..<stretch])
        func roundingGap(_ model: MouthModel) -> Double {
            let frames = Int(onset * 25) + 10
            let a = model.shapes(for: rounded.phones, frameCount: frames)
            let b = model.shapes(for: spread.phones, frameCount: frames)
            let frame = Int((onset - 0.3) * 25) // at or before 300 ms ahead
            return a[frame].rounding - b[frame].rounding
        }
        let version2 = roundingGap(MouthModel(coarticulation: .version2))
        XCTAssertGreaterThan(version2, 0.2)
        XCTAssertGreaterThan(version2, 2 * roundingGap(MouthModel()))
    }

    /// Corpus version 3: after a schwa and four consonants, the jaw 0.2 s before an open vowel
    /// is already clearly lower than before a close one, far more than in version 2.
    func testVersion3OpensTheJawAheadOfAnOpenVowel() {
        func jawGap(_ coarticulation: Coarticulation) -> Double {
            let model = MouthModel(coarticulation: coarticulation)
            let names = ["@", "@", "s", "t", "s", "t"]
            let open = model.shapes(for: phones(names + ["A:", "A:", "_"]), frameCount: 25)
            let close = model.shapes(for: phones(names + ["i:", "i:", "_"]), frameCount: 25)
            let frame = 7 // 0.28 s, inside the consonants; the vowel starts at 0.48 s
            return open[frame].jaw - close[frame].jaw
        }
        XCTAssertGreaterThan(jawGap(.version3), 0.25)
        XCTAssertGreaterThan(jawGap(.version3), 2 * jawGap(.version2))
    }

    /// Corpus version 3: in the middle of a 1.2 s pause between two /u:/ the lips are near rest;
    /// in version 2 the rounding of the vowels 0.6 s away took the pause over.
    func testVersion3RestsTheLipsInPauses() {
        let p = phones(["s", "u:", "u:"] + Array(repeating: "_", count: 15) + ["t", "u:", "u:", "_"])
        let middle = 21 // 0.84 s, the centre of the pause (0.24 – 1.44 s)
        let three = MouthModel(coarticulation: .version3).shapes(for: p, frameCount: 45)[middle]
        let two = MouthModel(coarticulation: .version2).shapes(for: p, frameCount: 45)[middle]
        XCTAssertLessThan(three.rounding, 0.2)
        XCTAssertLessThan(three.jaw, 0.05)
        XCTAssertLessThan(abs(three.width), 0.15)
        XCTAssertGreaterThan(two.rounding, 0.5)
    }
}
