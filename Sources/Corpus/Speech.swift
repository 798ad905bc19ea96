import CEspeakNG
import Common
import Foundation

/// One espeak-ng voice: a language voice with a variant (`en+m3`), a pitch (0–100, 50 normal)
/// and a rate in words per minute (80–450, 175 normal).
public struct Voice: Codable, Equatable, Sendable {
    public var name: String
    public var pitch: Int
    public var rate: Int

    public init(name: String, pitch: Int = 50, rate: Int = 175) {
        self.name = name
        self.pitch = pitch
        self.rate = rate
    }
}

/// One phone of the synthesised speech, in seconds from the start of the audio.
/// `phoneme` is espeak-ng's mnemonic (`aI`, `t`, `_:` …); pauses start with `_`.
public struct Phone: Codable, Equatable, Sendable {
    public var phoneme: String
    public var start: Double
    public var end: Double

    public init(phoneme: String, start: Double, end: Double) {
        self.phoneme = phoneme
        self.start = start
        self.end = end
    }
}

/// Speech audio with its exact phone timeline (from espeak-ng's phoneme events).
public struct Utterance: Sendable {
    public var audio: AudioClip
    public var phones: [Phone]
}

/// espeak-ng through its C library, in synchronous mode with phoneme events.
///
/// Reproducibility: espeak-ng 1.51 keeps function-static state in its wave generator (pitch
/// flutter index, cycle counters) that no API resets, so the same (text, voice) can come out a
/// few samples different depending on what the process synthesised before. Output is therefore
/// a function of the whole sequence of `synthesize` calls since process start: callers that
/// need identical files (the corpus generator) make their calls in one fixed order.
///
/// espeak-ng keeps one global synthesiser per process (voice, parameters, callback), so every
/// call holds `SpeechSynthesizer.lock`, and the callback writes into `collector`, which only
/// the lock holder sets. Instances are cheap handles onto that one engine.
public final class SpeechSynthesizer: Sendable {
    /// The rate espeak-ng synthesises at (22050 Hz for its standard voices).
    public let nativeRate: Int

    private static let lock = NSLock()
    // nonisolated(unsafe): read and written only while holding `lock`.
    nonisolated(unsafe) private static var initializedRate: Int?
    // nonisolated(unsafe): set and cleared only while holding `lock`; the callback reads it
    // during `espeak_Synth`, which runs synchronously on the lock holder's thread.
    nonisolated(unsafe) fileprivate static var collector: SynthesisCollector?

    public init() throws {
        SpeechSynthesizer.lock.lock()
        defer { SpeechSynthesizer.lock.unlock() }
        if let rate = SpeechSynthesizer.initializedRate {
            nativeRate = rate
            return
        }
        nativeRate = try SpeechSynthesizer.start()
        SpeechSynthesizer.initializedRate = nativeRate
    }

    /// Initialises espeak-ng (caller holds the lock); returns its sample rate.
    private static func start() throws -> Int {
        // buflength 0 = default; DONT_EXIT: return -1 on a missing data folder instead of exit().
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil,
                                     espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT)
        guard rate > 0 else {
            throw InputError("espeak-ng", "espeak_Initialize failed (is espeak-ng-data installed?)")
        }
        espeak_SetSynthCallback(speechCallback)
        return Int(rate)
    }

    /// Checks that espeak-ng knows `voice` and its settings are in range (`InputError` if not).
    public func validate(_ voice: Voice) throws {
        SpeechSynthesizer.lock.lock()
        defer { SpeechSynthesizer.lock.unlock() }
        try select(voice)
    }

    /// Synthesises `text` with `voice`; returns audio at `sampleRate` (resampled from
    /// `nativeRate`) and the phone timeline in seconds.
    public func synthesize(_ text: String, voice: Voice, sampleRate: Int = 16000) throws -> Utterance {
        let collector = SynthesisCollector()
        do {
            SpeechSynthesizer.lock.lock()
            defer {
                SpeechSynthesizer.collector = nil
                SpeechSynthesizer.lock.unlock()
            }
            try select(voice)
            // espeak-ng 1.51 draws noise (fricatives, breath) from libc's rand(), so its output
            // depends on what ran before; a fixed seed per utterance makes it depend only on
            // (text, voice). Nothing else in cals calls rand().
            srand(1)
            SpeechSynthesizer.collector = collector
            let bytes = Array(text.utf8CString)
            let status = bytes.withUnsafeBufferPointer { buffer in
                espeak_Synth(buffer.baseAddress, buffer.count, 0, POS_CHARACTER, 0,
                             UInt32(espeakCHARS_UTF8), nil, nil)
            }
            guard status == EE_OK else {
                throw InputError("espeak-ng", "espeak_Synth failed with status \(status.rawValue) for \"\(text)\"")
            }
        }
        let native = Double(nativeRate)
        // Phoneme events mark starts; each phone ends where the next one starts.
        var phones: [Phone] = []
        let total = collector.samples.count
        for (i, event) in collector.phonemes.enumerated() {
            let end = i + 1 < collector.phonemes.count ? collector.phonemes[i + 1].sample : total
            guard end > event.sample, !event.name.isEmpty else { continue }
            phones.append(Phone(phoneme: event.name, start: Double(event.sample) / native,
                                end: Double(end) / native))
        }
        let samples = resample(collector.samples, from: nativeRate, to: sampleRate)
        return Utterance(audio: AudioClip(sampleRate: sampleRate, samples: samples), phones: phones)
    }

    private func select(_ voice: Voice) throws {
        guard (0...100).contains(voice.pitch), (Int(espeakRATE_MINIMUM)...Int(espeakRATE_MAXIMUM)).contains(voice.rate) else {
            throw InputError(voice.name, "pitch \(voice.pitch) must be in 0...100 and rate \(voice.rate) in \(espeakRATE_MINIMUM)...\(espeakRATE_MAXIMUM)")
        }
        guard espeak_SetVoiceByName(voice.name) == EE_OK else {
            throw InputError(voice.name, "espeak-ng has no such voice (see `espeak-ng --voices`; variants look like en+m3)")
        }
        espeak_SetParameter(espeakPITCH, Int32(voice.pitch), 0)
        espeak_SetParameter(espeakRATE, Int32(voice.rate), 0)
    }
}

/// What the synth callback gathers for one `espeak_Synth` call.
fileprivate final class SynthesisCollector {
    var samples: [Float] = []
    var phonemes: [(name: String, sample: Int)] = []
}

/// espeak-ng's synth callback: records the phoneme events (their `sample` field is the absolute
/// sample index of the phone's start), then appends `count` 16-bit samples. Returns 0 = go on.
private func speechCallback(_ wav: UnsafeMutablePointer<Int16>?, _ count: Int32,
                            _ events: UnsafeMutablePointer<espeak_EVENT>?) -> Int32 {
    guard let collector = SpeechSynthesizer.collector else { return 0 }
    if var event = events {
        while event.pointee.type != espeakEVENT_LIST_TERMINATED {
            if event.pointee.type == espeakEVENT_PHONEME {
                let name = withUnsafeBytes(of: event.pointee.id.string) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                collector.phonemes.append((name, Int(event.pointee.sample)))
            }
            event += 1
        }
    }
    if let wav, count > 0 {
        let input = UnsafeBufferPointer(start: wav, count: Int(count))
        collector.samples.reserveCapacity(collector.samples.count + input.count)
        for s in input { collector.samples.append(Float(s) / 32768) }
    }
    return 0
}
