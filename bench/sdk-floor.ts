// The least any FleetOps handler loads: the DynamoDB document client (every handler reads the
// fleet-state table). Bundled as the handlers are, it is the benchmark's floor for import time.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async () => db.config.region();
