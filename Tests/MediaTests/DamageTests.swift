import Common
import Corpus
import Foundation
import Media
import TestSupport
import XCTest

/// Damaged streams: isolated bad packets are skipped as the ffmpeg program skips them and
/// counted per stream; `DamageBound` turns too much damage into an `InputError`.
final class DamageTests: XCTestCase {
    let scratch = ScratchDir("damage")

    /// The byte offset and size of each packet of stream `selector` ("a:0", "v:0") in the file.
    private func packets(_ path: String, _ selector: String) throws -> [(position: Int, size: Int)] {
        let probe = try TestSupport.run("ffprobe", ["-v", "error", "-select_streams", selector, "-show_entries",
                                                    "packet=pos,size", "-of", "compact=p=0", path])
        return probe.stdout.split(whereSeparator: \.isNewline).compactMap { line in
            // "size=768|pos=133811"
            let fields = Dictionary(line.split(separator: "|").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
                .filter { $0.count == 2 }.map { ($0[0], $0[1]) }, uniquingKeysWith: { a, _ in a })
            guard let position = fields["pos"].flatMap({ Int($0) }), let size = fields["size"].flatMap({ Int($0) }) else { return nil }
            return (position, size)
        }
    }

    private func flippingBytes(of path: String, to damaged: String, _ change: (inout Data) throws -> Void) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        try change(&data)
        try data.write(to: URL(fileURLWithPath: damaged))
    }

    /// One AC-3 packet in the middle of a Matroska file with its sync word destroyed: the clip
    /// decodes, one packet is counted undecodable (the demuxer's AC-3 parser hands the broken
    /// frame over merged with the next one, so two frames are lost) and the audio after it keeps
    /// its place: the same samples as the undamaged file outside the lost frames and the
    /// resampler's reach around them.
    func testCorruptAudioPacketBecomesSilenceOfItsDuration() throws {
        let clean = scratch.path("clean.mkv"), damaged = scratch.path("damaged.mkv")
        try makeFaceClip(clean, size: "160x120", videoOptions: ["-c:v", "libx264", "-preset", "ultrafast"],
                         audioOptions: ["-c:a", "ac3", "-b:a", "128k"])
        let audioPackets = try packets(clean, "a:0")
        XCTAssertGreaterThan(audioPackets.count, 60)
        let middle = audioPackets.count / 2, victim = audioPackets[middle]
        try flippingBytes(of: clean, to: damaged) { data in
            // The AC-3 frame starts with the sync word 0x0B77 a few bytes into the block.
            let window = data[victim.position ..< victim.position + 64]
            let sync = try XCTUnwrap(window.indices.first { data[$0] == 0x0B && data[$0 + 1] == 0x77 })
            data[sync] ^= 0xFF
            data[sync + 1] ^= 0xFF
        }
        let good = try decodeAudio(path: clean), bad = try decodeAudio(path: damaged)
        XCTAssertEqual(good.damage, StreamDamage(packets: audioPackets.count))
        XCTAssertEqual(bad.damage, StreamDamage(packets: try packets(damaged, "a:0").count, undecodable: 1))
        XCTAssertEqual(bad.samples.count, good.samples.count, "the lost packet is replaced, not dropped")
        // AC-3 frames are 1536 samples at 44.1 kHz (557 samples at 16 kHz).
        let lostStart = middle * 1536 * 16_000 / 44_100
        let differing = zip(good.samples, bad.samples).enumerated().filter { abs($0.element.0 - $0.element.1) > 1e-4 }.map(\.offset)
        XCTAssertGreaterThan(differing.count, 400, "the lost frames are silent")
        XCTAssertGreaterThan(differing.min() ?? 0, lostStart - 600)
        XCTAssertLessThan(differing.max() ?? .max, lostStart + 2 * 557 + 600, "later audio keeps its place")
        XCTAssertNoThrow(try DamageBound().check(bad.damage, stream: "audio", path: damaged), "1 in 86 packets is under 2 %")
        XCTAssertThrowsError(try DamageBound(strict: true).check(bad.damage, stream: "audio", path: damaged))
    }

    /// An AVI whose AC-3 track ends in an incomplete frame (as a real file did that was once
    /// rejected whole): everything decodes, the last packet is counted.
    func testTruncatedLastAudioFrameIsCounted() throws {
        let ac3 = scratch.path("audio.ac3"), cut = scratch.path("cut.ac3"), video = scratch.path("video.mp4")
        let avi = scratch.path("cut.avi")
        try makeFaceClip(video, size: "160x120", audioOptions: ["-an"])
        try ffmpeg(["-f", "lavfi", "-i", "sine=f=440:r=48000:d=3", "-c:a", "ac3", ac3])
        let whole = try Data(contentsOf: URL(fileURLWithPath: ac3))
        try whole.prefix(whole.count - 150).write(to: URL(fileURLWithPath: cut))
        try ffmpeg(["-i", video, "-i", cut, "-map", "0:v", "-map", "1:a", "-c", "copy", avi])
        let sizes = try packets(avi, "a:0").map(\.size)
        XCTAssertLessThan(sizes.last ?? 0, sizes.first ?? 0, "the last AC-3 packet is short")

        let clip = try decodeAudio(path: avi)
        XCTAssertEqual(clip.damage, StreamDamage(packets: sizes.count, undecodable: 1))
        XCTAssertEqual(Double(clip.samples.count), 48_000, accuracy: 600, "3 s, the last frame silent")
        let decoder = try VideoDecoder(path: avi)
        var frames = 0
        while try decoder.nextFrame() != nil { frames += 1 }
        XCTAssertEqual(frames, 75)
        XCTAssertEqual(decoder.damage.undecodable, 0)
    }

    /// One MPEG-TS packet of the video in the middle with a broken continuity counter and
    /// scrambled payload: the demuxer flags the frame's packet corrupt, the decoder conceals it,
    /// every frame is still there and the damage is counted.
    func testCorruptVideoPacketIsConcealedAndCounted() throws {
        let clean = scratch.path("clean.ts"), damaged = scratch.path("damaged.ts")
        try makeFaceClip(clean, size: "160x120", videoOptions: ["-c:v", "mpeg2video", "-q:v", "4"], audioOptions: ["-c:a", "mp2"])
        try flippingBytes(of: clean, to: damaged) { data in
            // 188-byte TS packets; the first video stream is PID 0x100.
            let video = stride(from: 0, to: data.count - 187, by: 188).filter { (start: Int) -> Bool in
                let pid = Int(data[start + 1] & 0x1F) << 8 | Int(data[start + 2])
                let startsPES = data[start + 1] & 0x40 != 0
                return data[start] == 0x47 && pid == 0x100 && !startsPES
            }
            let victim = video[video.count / 2]
            data[victim + 3] = (data[victim + 3] & 0xF0) | ((data[victim + 3] &+ 5) & 0x0F)
            for i in victim + 8 ..< victim + 188 { data[i] ^= 0x5A }
        }
        let frameCount = { (path: String) throws -> (Int, StreamDamage) in
            let decoder = try VideoDecoder(path: path)
            var n = 0
            while try decoder.nextFrame() != nil { n += 1 }
            return (n, decoder.damage)
        }
        let (goodFrames, goodDamage) = try frameCount(clean), (badFrames, badDamage) = try frameCount(damaged)
        XCTAssertEqual(goodDamage.undecodable, 0)
        XCTAssertEqual(badFrames, goodFrames)
        XCTAssertEqual(badDamage.packets, goodDamage.packets)
        XCTAssertEqual(badDamage.undecodable, 1)
        XCTAssertFalse(badDamage.firstSecondLost)
    }

    /// Half of a file overwritten with noise (seeded; every other 4 KiB block after the first
    /// 64 KiB): it still decodes, the measured damage is far over the bound, and `DamageBound`
    /// rejects it with the counts in the reason.
    func testHalfGarbageFileIsRejectedByTheBound() throws {
        let clean = scratch.path("clean.ts"), garbage = scratch.path("garbage.ts")
        try makeFaceClip(clean, size: "160x120", videoOptions: ["-c:v", "mpeg2video", "-q:v", "4"], audioOptions: ["-c:a", "mp2"])
        try flippingBytes(of: clean, to: garbage) { data in
            var random = SeededGenerator(seed: 21)
            for block in stride(from: 65_536, to: data.count, by: 8192) {
                for i in block ..< min(block + 4096, data.count) { data[i] = UInt8(truncatingIfNeeded: random.next()) }
            }
        }
        let decoder = try VideoDecoder(path: garbage)
        while try decoder.nextFrame() != nil {}
        let video = decoder.damage
        XCTAssertGreaterThan(Double(video.undecodable), 0.02 * Double(video.packets), "\(video)")
        let error = inputError { try DamageBound().check(video, stream: "video", path: garbage) }
        XCTAssertEqual(error?.path, garbage)
        XCTAssertTrue(error?.reason.hasPrefix("video: \(video.undecodable) of \(video.packets) packets undecodable (") ?? false,
                      error?.reason ?? "")
        let audio = try decodeAudio(path: garbage).damage
        XCTAssertNotNil(inputError { try DamageBound().check(audio, stream: "audio", path: garbage) }, "\(audio)")
    }

    /// The bound's rules on given counts.
    func testBoundRules() throws {
        let bound = DamageBound()
        XCTAssertNoThrow(try bound.check(StreamDamage(packets: 250, undecodable: 5), stream: "video", path: "a.mp4"))
        XCTAssertEqual(inputError { try bound.check(StreamDamage(packets: 250, undecodable: 12), stream: "video", path: "a.mp4") },
                       InputError("a.mp4", "video: 12 of 250 packets undecodable (4.8 %, bound 2 %)"))
        XCTAssertEqual(inputError { try bound.check(StreamDamage(packets: 250, undecodable: 1, firstSecondLost: true),
                                                    stream: "audio", path: "a.mp4") },
                       InputError("a.mp4", "audio: first second undecodable (1 of 250 packets)"))
        XCTAssertEqual(inputError { try DamageBound(strict: true).check(StreamDamage(packets: 250, undecodable: 1),
                                                                        stream: "video", path: "a.mp4") },
                       InputError("a.mp4", "video: 1 of 250 packets undecodable (strict)"))
        XCTAssertNoThrow(try DamageBound(strict: true).check(StreamDamage(packets: 250), stream: "video", path: "a.mp4"))
    }
}
