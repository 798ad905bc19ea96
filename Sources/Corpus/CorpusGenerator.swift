import Common
import Face
import Foundation
import Media

/// What `cals demo-corpus` makes.
public struct CorpusOptions: Sendable {
    /// Output folder; clips go to `<out>/<speaker>/<clip>.mp4` + `.json`.
    public var out: String
    public var speakers = 4
    public var clips = 20                   // per speaker
    public var seconds = 4.0                // per clip
    public var seed: UInt64 = 1
    /// How words follow each other in a clip's sentence.
    public var grammar = Grammar.words
    /// Long-range co-articulation of the mouth (corpus versions 2 and 3); nil: version 1, whose
    /// files stay byte-identical to those made before version 2 existed.
    public var coarticulation: Coarticulation?
    /// Where the face photos are (`make faces` fills it).
    public var faces = "data/faces"
    /// espeak-ng voices for the speakers in order (cycled); nil: each identity's own voice.
    public var voices: [String]?
    /// Side of the square video frames, in pixels.
    public var frameSize = 256
    /// Clips generated at once (espeak-ng itself runs one at a time).
    public var threads = 2

    public init(out: String) { self.out = out }
}

/// One speaker of the corpus: an identity, a voice and a look.
public struct Speaker: Codable, Equatable, Sendable {
    public var name: String
    public var identity: Identity
    public var voice: Voice
    public var style: FaceStyle
    /// Articulation strength (scales the jaw opening).
    public var jawScale: Double
}

/// Per-frame ground truth in the sidecar.
public struct FrameTruth: Codable, Equatable, Sendable {
    public var jaw: Double
    public var width: Double
    public var rounding: Double
    public var blink: Double
    /// Mouth centre x, y and closed-mouth half-width in frame pixels.
    public var mouth: [Double]
}

/// The JSON sidecar beside each clip.
public struct ClipSidecar: Codable, Equatable, Sendable {
    public var speaker: String
    public var clip: String
    public var split: String
    public var text: String
    public var voice: Voice
    public var identity: String
    /// The face photo, as given by `CorpusOptions.faces` + file name, and its face box there.
    public var photo: String
    public var photoFace: FaceBox
    public var style: FaceStyle
    public var fps: Int
    public var sampleRate: Int
    public var frameSize: Int
    public var frameCount: Int
    /// The phone timeline covering the whole clip (pauses are `_` phones).
    public var phones: [Phone]
    public var frames: [FrameTruth]
    /// The co-articulation the mouth followed (version 2 and 3 corpora); absent for version 1.
    public var coarticulation: Coarticulation?
}

/// A clip before encoding: audio (16 kHz, exactly frameCount/25 s) and its ground truth.
public struct ClipPlan: Sendable {
    public var sidecar: ClipSidecar
    public var audio: AudioClip
    public var shapes: [MouthShape]
    public var poses: [HeadPose]
}

/// Generates the demo corpus: speech from espeak-ng, a face photo whose mouth follows it.
///
/// Everything random comes from `SeededGenerator` streams keyed by (seed, speaker, clip), so a
/// clip does not depend on which other clips are made or in which order: same seed, same files.
public final class CorpusGenerator: Sendable {
    public static let fps = 25
    public static let sampleRate = 16000
    /// Default voices of the built-in identities, by identity name.
    public static let identityVoices = ["david": "en+m3", "lisa": "en+f2", "astronaut": "en-us+f4",
                                        "matthew": "en-us+m1", "hanks": "en+m7", "grace": "en+f4"]

    public let options: CorpusOptions
    public let speakers: [Speaker]
    private let photos: [String: FacePhoto]   // by identity name
    private let synthesizer: SpeechSynthesizer

    /// Checks every input (counts, voices, face photos, output folder) before anything is
    /// written; throws `InputError` naming the first bad one.
    public init(_ options: CorpusOptions) throws {
        self.options = options
        guard options.speakers > 0 else { throw InputError("--speakers", "must be at least 1, got \(options.speakers)") }
        guard options.clips > 0 else { throw InputError("--clips", "must be at least 1, got \(options.clips)") }
        guard options.seconds >= 1, options.seconds <= 60 else {
            throw InputError("--seconds", "must be between 1 and 60, got \(options.seconds)")
        }
        guard options.frameSize >= 64, options.frameSize <= 1024, options.frameSize % 2 == 0 else {
            throw InputError("--size", "must be even and between 64 and 1024, got \(options.frameSize)")
        }
        if let voices = options.voices, voices.isEmpty { throw InputError("--voices", "empty list") }
        synthesizer = try SpeechSynthesizer()
        var speakers: [Speaker] = []
        for i in 0..<options.speakers {
            let identity = Identity.builtIn[i % Identity.builtIn.count]
            var g = SeededGenerator(seed: options.seed, stream: 1, UInt64(i))
            let name = options.voices.map { $0[i % $0.count] } ?? CorpusGenerator.identityVoices[identity.name] ?? "en"
            let voice = Voice(name: name, pitch: Int(g.uniform(35, 66)), rate: Int(g.uniform(150, 191)))
            try synthesizer.validate(voice)
            speakers.append(Speaker(name: String(format: "s%02d_", i + 1) + identity.name, identity: identity,
                                    voice: voice, style: FaceStyle.random(using: &g),
                                    jawScale: g.uniform(0.85, 1.15)))
        }
        var photos: [String: FacePhoto] = [:]
        for s in speakers where photos[s.identity.name] == nil {
            photos[s.identity.name] = try FacePhoto(s.identity, folder: options.faces)
        }
        try CorpusGenerator.checkWritable(options.out)
        self.speakers = speakers
        self.photos = photos
    }

    /// Plans clip `index` (0-based) of `speaker`: sentence, speech, phones, mouth shapes, poses.
    public func plan(speaker: Speaker, index: Int) throws -> ClipPlan {
        let s = speakers.firstIndex(of: speaker) ?? 0
        var g = SeededGenerator(seed: options.seed, stream: 2, UInt64(s), UInt64(index))
        let frameCount = Int((options.seconds * Double(CorpusGenerator.fps)).rounded())
        let duration = Double(frameCount) / Double(CorpusGenerator.fps)
        let lead = g.uniform(0.15, 0.45)
        let room = duration - lead - 0.2     // speech must end 0.2 s before the clip does
        // As many words as fit the room at the voice's rate, so speech fills the clip (silence
        // windows teach a sync model nothing): start from an estimate, then add words while the
        // speech still fits, or drop them until it does.
        let wordSeed = g.next()
        func speak(_ words: Int) throws -> (String, Utterance) {
            var w = SeededGenerator(seed: wordSeed)
            let text = SentenceGenerator.sentence(words: words, grammar: options.grammar, using: &w)
            return (text, try synthesizer.synthesize(text, voice: speaker.voice, sampleRate: CorpusGenerator.sampleRate))
        }
        var words = max(1, Int(Double(speaker.voice.rate) / 60 * room))
        var (text, utterance) = try speak(words)
        if utterance.audio.duration <= room {
            while true {
                let (longerText, longer) = try speak(words + 1)
                guard longer.audio.duration <= room else { break }
                (text, utterance, words) = (longerText, longer, words + 1)
            }
        } else {
            while utterance.audio.duration > room && words > 1 {
                words -= 1
                (text, utterance) = try speak(words)
            }
            guard utterance.audio.duration <= room else {
                throw InputError("--seconds", "\(options.seconds) s is too short for one word at rate \(speaker.voice.rate)")
            }
        }
        // Place the speech at `lead`, pad with silence; pauses fill the timeline's ends.
        let total = frameCount * CorpusGenerator.sampleRate / CorpusGenerator.fps
        let offset = Int(lead * Double(CorpusGenerator.sampleRate))
        var samples = [Float](repeating: 0, count: total)
        for (i, x) in utterance.audio.samples.enumerated() where offset + i < total { samples[offset + i] = x }
        let start = Double(offset) / Double(CorpusGenerator.sampleRate)
        var phones = utterance.phones.map { Phone(phoneme: $0.phoneme, start: $0.start + start, end: $0.end + start) }
        phones.insert(Phone(phoneme: "_", start: 0, end: phones.first?.start ?? start), at: 0)
        phones.append(Phone(phoneme: "_", start: phones.last!.end, end: duration))

        let shapes = MouthModel(jawScale: speaker.jawScale, coarticulation: options.coarticulation).shapes(for: phones, frameCount: frameCount)
        let motion = HeadMotion(duration: duration, using: &g)
        let poses = (0..<frameCount).map { motion.pose(at: Double($0) / Double(CorpusGenerator.fps)) }
        let photo = photos[speaker.identity.name]!
        let sidecar = ClipSidecar(
            speaker: speaker.name, clip: String(format: "clip%03d", index + 1),
            split: index % 10 == 8 ? "val" : index % 10 == 9 ? "test" : "train",
            text: text, voice: speaker.voice, identity: speaker.identity.name, photo: photo.path,
            photoFace: photo.face, style: speaker.style, fps: CorpusGenerator.fps,
            sampleRate: CorpusGenerator.sampleRate, frameSize: options.frameSize, frameCount: frameCount,
            phones: phones.map { Phone(phoneme: $0.phoneme, start: rounded($0.start), end: rounded($0.end)) },
            frames: [], coarticulation: options.coarticulation)
        return ClipPlan(sidecar: sidecar, audio: AudioClip(sampleRate: CorpusGenerator.sampleRate, samples: samples),
                        shapes: shapes, poses: poses)
    }

    /// Renders the frames of `plan` in order, handing each to `body`; returns the sidecar with
    /// its per-frame ground truth filled in.
    public func render(_ plan: ClipPlan, speaker: Speaker, _ body: (RGBImage) throws -> Void) throws -> ClipSidecar {
        let renderer = FaceRenderer(photo: photos[speaker.identity.name]!, style: speaker.style,
                                    frameSize: options.frameSize)
        var sidecar = plan.sidecar
        for (shape, pose) in zip(plan.shapes, plan.poses) {
            let frame = try renderer.render(shape, pose: pose)
            try body(frame.image)
            sidecar.frames.append(FrameTruth(jaw: rounded(shape.jaw), width: rounded(shape.width),
                                             rounding: rounded(shape.rounding), blink: rounded(pose.blink),
                                             mouth: frame.mouth.map { rounded($0) }))
        }
        return sidecar
    }

    /// Writes `plan` as `<out>/<speaker>/<clip>.mp4` and `.json`, each under a temporary name
    /// renamed when complete (the JSON last). Returns the mp4 path.
    @discardableResult
    public func write(_ plan: ClipPlan, speaker: Speaker) throws -> String {
        let folder = (options.out as NSString).appendingPathComponent(speaker.name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = (folder as NSString).appendingPathComponent(plan.sidecar.clip)
        let writer = try MediaWriter(path: base + ".mp4", width: options.frameSize, height: options.frameSize,
                                     audioSampleRate: CorpusGenerator.sampleRate)
        try writer.appendAudio(plan.audio.samples)
        let sidecar = try render(plan, speaker: speaker) { try writer.append($0) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(sidecar)
        let partial = (folder as NSString).appendingPathComponent(".\(plan.sidecar.clip).json.partial")
        do {
            try json.write(to: URL(fileURLWithPath: partial))
            try writer.finish()
            guard rename(partial, base + ".json") == 0 else {
                throw InputError(base + ".json", String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        return base + ".mp4"
    }

    /// Makes every clip of every speaker; returns the mp4 paths, speaker by speaker.
    ///
    /// Clips are planned (speech synthesised) one at a time in (speaker, clip) order — the
    /// order that makes espeak-ng's output reproducible, see `SpeechSynthesizer` — and rendered
    /// and encoded `options.threads` at a time. On the first failure the remaining clips are
    /// skipped and the error rethrown (finished clips stay: each is complete).
    @discardableResult
    public func generate(progress: Common.Progress? = nil) throws -> [String] {
        let jobs = speakers.flatMap { s in (0..<options.clips).map { (s, $0) } }
        var paths = [String](repeating: "", count: jobs.count)
        var next = 0
        var failure: Error?
        let planning = NSLock(), results = NSLock()
        // `next` is touched only under `planning`, `paths` and `failure` only under `results`.
        concurrentPerform(max(1, min(options.threads, jobs.count))) { _ in
            while true {
                // Take the next job and plan it, both under `planning`: plans happen in job order.
                planning.lock()
                let j = next
                next += 1
                results.lock(); let stop = failure != nil; results.unlock()
                guard j < jobs.count, !stop else { planning.unlock(); return }
                let plan = Result { try self.plan(speaker: jobs[j].0, index: jobs[j].1) }
                planning.unlock()
                do {
                    let path = try write(plan.get(), speaker: jobs[j].0)
                    results.lock(); paths[j] = path; results.unlock()
                    progress?.advance()
                } catch {
                    results.lock(); if failure == nil { failure = error }; results.unlock()
                }
            }
        }
        if let failure { throw failure }
        return paths
    }

    /// Throws unless `path` is (or can be created as) a writable folder; creates nothing.
    static func checkWritable(_ path: String) throws {
        var existing = path.isEmpty ? "." : path
        var isFolder: ObjCBool = false
        while !FileManager.default.fileExists(atPath: existing, isDirectory: &isFolder) {
            let parent = (existing as NSString).deletingLastPathComponent
            existing = parent.isEmpty ? "." : parent
        }
        guard isFolder.boolValue else { throw InputError(path, "output folder: \(existing) is a file") }
        guard access(existing, W_OK) == 0 else { throw InputError(path, "output folder is not writable (\(existing))") }
    }
}

/// Rounds to 1e-4 (keeps sidecars short; the values are ground truth to that precision).
private func rounded(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
