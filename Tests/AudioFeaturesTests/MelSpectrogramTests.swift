import AudioFeatures
import Common
import Foundation
import TestSupport
import XCTest

final class MelSpectrogramTests: XCTestCase {
    static let script = "Tests/AudioFeaturesTests/golden/mel_reference.py"

    func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Decodes `audio` to 16 kHz with librosa, computes the log-mel on both sides from the same
    /// samples and compares them value by value.
    func assertMatchesLibrosa(_ audio: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = ScratchDir("mel")
        let samplesPath = dir.path("samples.f32"), refPath = dir.path("ref.f32")
        try runPython(Self.script, ["decode", audio, samplesPath])
        try runPython(Self.script, ["mel", samplesPath, refPath])
        let samples = try readFloats(samplesPath)
        let reference = try readFloats(refPath)
        XCTAssertGreaterThan(samples.count, 16_000, "test audio shorter than 1 s", file: file, line: line)

        let mel = MelSpectrogram().logMel(samples)
        let frames = MelSpectrogram.frameCount(sampleCount: samples.count)
        XCTAssertEqual(mel.count, frames * 80, file: file, line: line)
        XCTAssertEqual(reference.count, mel.count, "shape differs from librosa", file: file, line: line)
        guard reference.count == mel.count else { return }
        var worst: Float = 0, worstIndex = 0
        for i in 0..<mel.count where abs(mel[i] - reference[i]) > worst {
            worst = abs(mel[i] - reference[i]); worstIndex = i
        }
        print("mel golden: \(audio): \(reference.count / 80) frames, max abs diff \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(audio): max |swift − librosa| = \(worst) at frame "
                                 + "\(worstIndex / 80) bin \(worstIndex % 80)", file: file, line: line)
        // The comparison is meaningful only if the audio has both speech and quiet parts.
        XCTAssertGreaterThan(mel.max()!, 0, file: file, line: line)
        XCTAssertLessThan(mel.min()!, -2, file: file, line: line)
    }

    func testMatchesLibrosaOnRecordedSpeech() throws {
        let data = "/usr/share/pocketsphinx/test/data"
        try assertMatchesLibrosa("\(data)/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
        try assertMatchesLibrosa("\(data)/cards/001.wav")
    }

    func testMatchesLibrosaOnSynthesisedSpeech() throws {
        // espeak-ng writes 22.05 kHz: librosa resamples it, both sides see the same 16 kHz samples.
        let dir = ScratchDir("espeak")
        let wav = dir.path("speech.wav")
        let result = try TestSupport.run("espeak-ng", ["-w", wav, "Context aware lip sync paints the mouth from the sound around it."])
        XCTAssertEqual(result.status, 0, result.stderr)
        try assertMatchesLibrosa(wav)
    }

    func testFrameCountAndSilence() {
        let mel = MelSpectrogram()
        for count in [0, 1, 159, 160, 161, 16_000] {
            let out = mel.logMel([Float](repeating: 0, count: count))
            XCTAssertEqual(out.count, (1 + count / 160) * 80)
            XCTAssertTrue(out.allSatisfy { $0 == -4 }, "silence must map to −4")
        }
    }

    func testAudioUnitsTakeFourFramesPadAndDrop() {
        // A fake [F, 80] log-mel whose value encodes (frame, bin).
        let frames = 10
        let mel = (0..<(frames * 80)).map { Float($0 / 80) + Float($0 % 80) / 100 }
        // 3 units: frames 0–3, 4–7, 8–9 + two padded.
        let units = MelSpectrogram.audioUnits(logMel: mel, videoFrameCount: 3)
        XCTAssertEqual(units.count, 3 * 80 * 4)
        for t in 0..<3 {
            for m in 0..<80 {
                for j in 0..<4 {
                    let f = 4 * t + j
                    let expected: Float = f < frames ? Float(f) + Float(m) / 100 : -4
                    XCTAssertEqual(units[(t * 80 + m) * 4 + j], expected)
                }
            }
        }
        // Extra mel frames are dropped.
        XCTAssertEqual(MelSpectrogram.audioUnits(logMel: mel, videoFrameCount: 1), Array(units[0..<320]))
    }

    func testAudioUnitsOfClipNeed16kHz() throws {
        let mel = MelSpectrogram()
        XCTAssertThrowsError(try mel.audioUnits(AudioClip(sampleRate: 44_100, samples: [0, 0]), videoFrameCount: 1))
        let clip = AudioClip(sampleRate: 16_000, samples: (0..<16_000).map { sinf(Float($0) * 0.1) })
        XCTAssertEqual(try mel.audioUnits(clip, videoFrameCount: 25).count, 25 * 320)
    }
}
