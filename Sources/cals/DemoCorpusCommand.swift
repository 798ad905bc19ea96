import ArgumentParser
import Common
import Corpus
import Foundation

/// `cals demo-corpus`: generates the demo corpus (espeak-ng speech, face photos whose mouths
/// follow it) as `<out>/<speaker>/<clip>.mp4` + `<clip>.json`.
struct DemoCorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-corpus",
        abstract: "Generate the demo corpus: talking faces with known phone timing and mouth shapes.")

    @Option(help: "Output folder (clips go to <out>/<speaker>/<clip>.mp4 and .json).")
    var out: String

    @Option(help: "Number of speakers (identities cycle through the 6 built-in face photos).")
    var speakers = 4

    @Option(help: "Clips per speaker.")
    var clips = 20

    @Option(help: "Length of each clip in seconds (1-60).")
    var seconds = 4.0

    @Option(help: "Random seed: the same seed gives the same files.")
    var seed: UInt64 = 1

    @Option(help: "How words follow each other: words (drawn independently from a word list) or grid (the GRID corpus's six-slot grammar, whose context predicts its words).")
    var grammar = Grammar.words

    @Option(help: "Corpus version: 1 (mouth follows the phones within about 0.3 s) 2 (long-range co-articulation: lip rounding anticipated up to 0.5 s across consonants, carry-over of rounding and jaw opening, consonant shapes from the neighbouring vowels) or 3 (2 with jaw opening anticipated 0.25 s before a vowel and the lips at rest in pauses).")
    var corpusVersion = 1

    @Option(help: "Folder with the face photos (filled by `make faces`).")
    var faces = "data/faces"

    @Option(help: "Comma-separated espeak-ng voices for the speakers in order, e.g. en+m3,en+f2 (default: one per identity).")
    var voices: String?

    @Option(help: "Side of the square video frames in pixels.")
    var size = 256

    @Option(help: "Clips generated in parallel.")
    var threads = 2

    func run() throws {
        var options = CorpusOptions(out: out)
        options.speakers = speakers
        options.clips = clips
        options.seconds = seconds
        options.seed = seed
        options.grammar = grammar
        options.faces = faces
        options.voices = voices.map { $0.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) } }
        options.frameSize = size
        options.threads = threads
        do {
            switch corpusVersion {
            case 1: options.coarticulation = nil
            case 2: options.coarticulation = .version2
            case 3: options.coarticulation = .version3
            default: throw InputError("--corpus-version", "must be 1, 2 or 3, got \(corpusVersion)")
            }
            let start = Date()
            let generator = try CorpusGenerator(options)
            let progress = Progress(label: "demo-corpus", total: speakers * clips, unit: "clips")
            let paths = try generator.generate(progress: progress)
            progress.finish()
            let elapsed = Date().timeIntervalSince(start)
            let video = Double(paths.count) * seconds
            print(String(format: "wrote %d clips (%.0f s of video) to %@ in %.1f s: %.1fx real time",
                         paths.count, video, out, elapsed, video / max(elapsed, 1e-9)))
        } catch let error as InputError {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }
}

extension Grammar: ExpressibleByArgument {}
