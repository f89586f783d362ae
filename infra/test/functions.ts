import { existsSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { roleStatements } from "./services.ts";
import { dir, only, props, resources, type Stage, text } from "./templates.ts";

function fn(stage: Stage, stack: "Scaler" | "Migrate") {
  return only(
    resources(stage, stack, "AWS::Lambda::Function").filter(([, f]) => f.Properties?.VpcConfig),
    `${stack} VPC function`,
  );
}

export function functionsSuite(): void {
  describe.each<Stage>(["dev", "prod"])("scaler and migrations (%s)", (stage) => {
    it("runs the scaler every minute, in the VPC, on Node 20, never retried or overlapped", () => {
      const [id, scaler] = fn(stage, "Scaler");
      const [, rule] = only(resources(stage, "Scaler", "AWS::Events::Rule"), "schedule");
      expect(rule.Properties?.ScheduleExpression).toBe("rate(1 minute)");
      expect(text(rule.Properties?.Targets)).toContain(`"${id}"`);
      expect(scaler.Properties?.Runtime).toBe("nodejs20.x");
      expect(scaler.Properties?.Timeout).toBeLessThan(60);
      expect(text(scaler.Properties?.VpcConfig)).toMatch(/ScalerSg/);
      const [, invokeConfig] = only(
        resources(stage, "Scaler", "AWS::Lambda::EventInvokeConfig"),
        "invoke config",
      );
      expect(invokeConfig.Properties?.MaximumRetryAttempts).toBe(0);
    });

    it("grants the scaler exactly: ecs:DescribeServices/UpdateService on the worker service, PutMetricData in its namespace, read of the Redis token", () => {
      const [, scaler] = fn(stage, "Scaler");
      const role = /"Fn::GetAtt":\["(\w+)","Arn"\]/.exec(text(scaler.Properties?.Role))?.[1] ?? "";
      const [, roleRes] = only(
        resources(stage, "Scaler", "AWS::IAM::Role").filter(([rid]) => rid === role),
        "scaler role",
      );
      expect(text(roleRes.Properties?.ManagedPolicyArns)).toMatch(
        /AWSLambdaBasicExecutionRole.*AWSLambdaVPCAccessExecutionRole/,
      );
      const statements = roleStatements(stage, "Scaler", role).map((s) => ({
        Action: s.Action,
        Resource: text(s.Resource),
        Condition: s.Condition,
      }));
      expect(statements).toEqual([
        {
          Action: ["ecs:DescribeServices", "ecs:UpdateService"],
          Resource: expect.stringMatching(
            /^\{"Fn::ImportValue":"[\w-]+-Worker:ExportsOutputRefWorkerService\w+"\}$/,
          ),
          Condition: undefined,
        },
        {
          Action: "cloudwatch:PutMetricData",
          Resource: '"*"',
          Condition: { StringEquals: { "cloudwatch:namespace": "Astraeus" } },
        },
        {
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          Resource: expect.stringMatching(/ExportsOutputRefRedisAuthToken/),
          Condition: undefined,
        },
      ]);
    });

    it("gives the scaler the Redis endpoint and the secret's ARN, never a secret value", () => {
      const [, scaler] = fn(stage, "Scaler");
      const vars = (props(scaler).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(vars)).toEqual(
        expect.arrayContaining([
          "ASTRAEUS_STAGE",
          "REDIS_HOST",
          "REDIS_AUTH_SECRET_ARN",
          "WORKER_CLUSTER",
          "WORKER_SERVICE",
        ]),
      );
      expect(vars.REDIS_TLS).toBe("true");
      expect(vars.REDIS_URL).toBeUndefined();
      expect(text(vars)).not.toMatch(/resolve:secretsmanager/);
    });

    it("runs migrations from an SST Script whose VPC function ships the SQL and reads only the DB secret", () => {
      const [id, migrate] = fn(stage, "Migrate");
      const [, script] = only(resources(stage, "Migrate", "Custom::SSTScript"), "script");
      expect(text(script.Properties?.UserCreateFunction)).toContain(id);
      expect(text(script.Properties?.UserUpdateFunction)).toContain(id);
      expect(text(migrate.Properties?.VpcConfig)).toMatch(/MigrateSg/);
      const role = /"Fn::GetAtt":\["(\w+)","Arn"\]/.exec(text(migrate.Properties?.Role))?.[1] ?? "";
      const reads = roleStatements(stage, "Migrate", role).map((s) => text(s.Resource));
      expect(reads).toEqual([expect.stringMatching(/DatabaseSecretAttachment/)]);
      // The bundle carries the drizzle SQL where @astraeus/db looks for it (../migrations from the module).
      const key = text((props(migrate).Code as { S3Key: unknown }).S3Key);
      const hash = /([0-9a-f]{64})\.zip/.exec(key)?.[1];
      const asset = `${dir(stage)}/asset.${hash}`;
      expect(existsSync(`${asset}/packages/functions/src/migrate/handler.mjs`)).toBe(true);
      const sql = readdirSync(`${asset}/packages/functions/src/migrations`).filter((f) => f.endsWith(".sql"));
      expect(sql.length).toBeGreaterThan(0);
    });
  });
}
